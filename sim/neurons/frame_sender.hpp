#pragma once
// Frames for a population's dataflow sends: the values a shard's neurons send on one
// output port in one tick, gathered into frames of consecutive senders with one tag
// (outbox::emit_values). A receiver sees the same messages in the same order as from
// one emit() per neuron (frames of one port cover disjoint source ranges), and the
// event counters count the messages a frame stands for. Only first messages of a
// step (repeat 0) may travel in frames, so eager refinements keep emit().
//
// Use: open(shard) before a shard's neurons react, add() per sending neuron in
// increasing index order, flush(ctx) after the last one.
#include <vector>

#include "sim/core/per_shard.hpp"
#include "sim/core/population.hpp"

namespace phaseless::neurons {

using namespace phaseless::core;

class frame_sender {
 public:
  void init(out_t port, unsigned shards) {
    port_ = port;
    frames_.assign(shards, frame{});
  }
  // Sender i's value of step `tag`; a gap in the senders or another tag starts a new frame.
  // `news` false: a sigma-delta step marker (outbox::emit).
  void add(shard_context& ctx, index_t i, tag_t tag, double value, bool news = true) {
    frame& f = frames_[ctx.shard];
    if (f.values.empty() || f.tag != tag || i != f.first + f.values.size()) {
      flush(ctx);
      f.first = i;
      f.tag = tag;
    }
    f.values.push_back(value);
    // The flags are kept only once the frame holds a marker: frames of messages only
    // (every rule at threshold 0) pay nothing for them.
    if (!news && f.news.empty()) f.news.assign(f.values.size() - 1, char(1));   // the messages before it
    if (!news || !f.news.empty()) f.news.push_back(char(news));
  }
  // Room for the values of senders first .. first + n - 1 of step `tag`, all messages,
  // to fill in order: the frame n add() calls would make, without a check per sender.
  double* run(shard_context& ctx, index_t first, tag_t tag, std::size_t n) {
    frame& f = frames_[ctx.shard];
    if (!f.values.empty() && (f.tag != tag || first != f.first + f.values.size())) flush(ctx);
    if (f.values.empty()) {
      f.first = first;
      f.tag = tag;
    }
    const std::size_t at = f.values.size();
    f.values.resize(at + n);
    if (!f.news.empty()) f.news.resize(at + n, char(1));
    return f.values.data() + at;
  }
  void flush(shard_context& ctx) {
    frame& f = frames_[ctx.shard];
    if (f.values.empty()) return;
    ctx.out.emit_values(port_, f.first, f.tag, f.values.data(), static_cast<std::uint32_t>(f.values.size()),
                        f.news.empty() ? nullptr : f.news.data());
    f.values.clear();
    f.news.clear();
  }

 private:
  struct frame {
    index_t first = 0;
    tag_t tag = no_tag;
    std::vector<double> values;
    std::vector<char> news;   // per value: a message (1) or a sigma-delta step marker (0); empty: all messages
  };
  out_t port_ = ~out_t{0};
  per_shard<frame> frames_;
};

}  // namespace phaseless::neurons
