#pragma once
// Frames for a population's dataflow sends: the values a shard's neurons send on one
// output port in one tick, gathered into frames of consecutive senders with one tag
// (outbox::emit_values). A receiver sees the same messages in the same order as from
// one emit() per neuron (frames of one port cover disjoint source ranges), and the
// event counters count the messages a frame stands for. Only first messages of a
// step (repeat 0) may travel in frames, so eager refinements keep emit().
//
// Use: while a shard's neurons react, add() per sending neuron in increasing index
// order (or run() for a block of them); flush(ctx) after the last one.
//
// add() is called once per neuron and step, so its common case (the next sender of the
// open frame, a message) is a store and a few compares, inlined; starting a frame,
// growing it and step markers (sigma-delta only) take the out-of-line paths.
#include <algorithm>
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
    if (f.n == 0 || f.tag != tag || i != f.first + f.n || f.n == f.values.size()) [[unlikely]]
      begin(ctx, f, i, tag, 1);
    f.values[f.n++] = value;
    // The flags are kept only once the frame holds a marker: frames of messages only
    // (every rule at threshold 0) pay nothing for them.
    if (!news || !f.news.empty()) [[unlikely]]
      flag(f, news);
  }
  // Room for the messages (no markers) of senders first .. first + n - 1 of step `tag`,
  // to be filled in order: the same frames as n add()s.
  double* run(shard_context& ctx, index_t first, tag_t tag, std::uint32_t n) {
    frame& f = frames_[ctx.shard];
    begin(ctx, f, first, tag, n);
    double* at = f.values.data() + f.n;
    f.n += n;
    if (!f.news.empty()) f.news.resize(f.n, char(1));
    return at;
  }
  void flush(shard_context& ctx) {
    frame& f = frames_[ctx.shard];
    if (f.n == 0) return;
    ctx.out.emit_values(port_, f.first, f.tag, f.values.data(), f.n, f.news.empty() ? nullptr : f.news.data());
    f.n = 0;
    f.news.clear();
  }

 private:
  struct frame {
    index_t first = 0;
    tag_t tag = no_tag;
    std::uint32_t n = 0;          // values held (values.size() is the room)
    std::vector<double> values;
    std::vector<char> news;   // per value: a message (1) or a sigma-delta step marker (0); empty: all messages
  };
  // Makes room for `more` values from sender i on: after the open frame if i continues
  // it with the same tag, else in a new frame (the open one is sent).
  [[gnu::noinline]] void begin(shard_context& ctx, frame& f, index_t i, tag_t tag, std::uint32_t more) {
    if (f.n == 0 || f.tag != tag || i != f.first + f.n) {
      flush(ctx);
      f.first = i;
      f.tag = tag;
    }
    if (f.values.size() < std::size_t(f.n) + more)
      f.values.resize(std::max<std::size_t>({std::size_t(f.n) + more, 2 * f.values.size(), 64}));
  }
  [[gnu::noinline]] static void flag(frame& f, bool news) {
    if (f.news.empty()) f.news.assign(f.n - 1, char(1));   // the messages before it
    f.news.push_back(char(news));
  }
  out_t port_ = ~out_t{0};
  per_shard<frame> frames_;
};

}  // namespace phaseless::neurons
