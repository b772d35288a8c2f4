// The memory a run needs, estimated from the model's sizes before anything is built, so
// that a model too large for this machine is refused with a message naming the field
// instead of being killed by the kernel's OOM killer part way through. The per-item costs
// were measured on float32 runs (docs/limits.md) and round down: the estimate may let a
// model through that then runs out of memory by a small factor, never refuse one that fits.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "sim/io/model_limits.hpp"
#include "sim/io/model_validate.hpp"

namespace phaseless::io {
namespace {

namespace v1 = phaseless::v1;

// Bytes per item of a run (event engine, trace writer, start/end weights for compare).
constexpr double bytes_per_synapse = 100;     // weights, indices and delays in the spec and the engine
constexpr double bytes_per_dense_entry = 12;  // a snapshot writes each projection as a dense pre x post matrix
constexpr double bytes_per_neuron = 256;      // state, inboxes, fan-out lists
constexpr double bytes_per_bucket = 24;       // one calendar bucket per tick of the longest delay
constexpr double bytes_per_order_entry = 8;   // the sample order: one index per training step
constexpr double bytes_per_value = 4;         // a dataset value (float32)

struct part {
  std::string path;   // the field to edit
  std::string what;   // "projections[1] 'w2' (h1 -> h2): 100000000 synapses"
  double bytes;
};

std::string count_text(double n) {
  char buf[48];
  std::snprintf(buf, sizeof buf, n < 1e15 ? "%.0f" : "%.3g", n);
  return buf;
}

class estimator {
 public:
  explicit estimator(const v1::Model& m) : m_(m) {
    for (int i = 0; i < m.populations_size(); ++i) index_[m.populations(i).name()] = i;
  }

  std::vector<part> parts(const data_summary& data) {
    populations();
    projections();
    calendar();
    order(data);
    datasets(data);
    return parts_;
  }

 private:
  double steps(int i) const { return m_.populations(i).unroll() >= 2 ? m_.populations(i).unroll() : 1; }
  int find(const std::string& name) const { return index_.at(name); }

  void populations() {
    for (int i = 0; i < m_.populations_size(); ++i) {
      const auto& p = m_.populations(i);
      const double n = double(p.size()) * steps(i);
      const bool unrolled = steps(i) > 1;
      parts_.push_back({"populations[" + std::to_string(i) + "]" + (unrolled ? ".unroll" : ".size"),
                        "population '" + p.name() + "': " + count_text(n) + " neurons" +
                            (unrolled ? " (" + count_text(steps(i)) + " unrolled steps)" : ""),
                        n * bytes_per_neuron});
    }
  }

  // Synapses of one copy of a projection as the builder lays them out.
  double synapses(const v1::Projection& q, const v1::Population& a, const v1::Population& b) const {
    const double pre = q.step_slice() ? q.step_slice() : a.size(), post = b.size();
    if (q.has_one_to_one()) return post;
    if (q.has_sparse()) return q.sparse().p() * pre * post;
    if (q.has_conv()) {
      const double c_in = a.has_shape() ? a.shape().channels() : 1, k = q.conv().kernel();
      return post * c_in * k * k;
    }
    if (q.has_operand() || q.has_rows()) return post * std::max<double>(1, b.has_shape() ? b.shape().width() : 1) *
                                                   std::max<double>(1, b.has_shape() ? b.shape().height() : 1);
    return pre * post;   // dense
  }

  void projections() {
    for (int j = 0; j < m_.projections_size(); ++j) {
      const auto& q = m_.projections(j);
      const int pre = find(q.pre()), post = find(q.post());
      const auto &a = m_.populations(pre), &b = m_.populations(post);
      const double copies = pre == post ? steps(post) - 1 : steps(post);
      const double per = synapses(q, a, b);
      const double n = per * copies;
      const double feedback = q.feedback().kind() == v1::RANDOM ? 2 : 1;   // B is a second matrix
      const double dense = double(q.step_slice() ? q.step_slice() : a.size()) * b.size() * copies;
      parts_.push_back({"projections[" + std::to_string(j) + "]",
                        "projection '" + q.name() + "' (" + q.pre() + " -> " + q.post() + "): " + count_text(n) +
                            " synapses" + (copies > 1 ? " in " + count_text(copies) + " unrolled copies" : ""),
                        n * bytes_per_synapse * feedback + dense * bytes_per_dense_entry});
    }
  }

  void calendar() {
    std::uint64_t longest = 1;
    int at = -1;
    for (int j = 0; j < m_.projections_size(); ++j)
      for (const v1::Delay* d : {&m_.projections(j).delay(), &m_.projections(j).feedback().delay()}) {
        const std::uint64_t t = d->has_uniform() ? d->uniform().max() : d->constant().ticks();
        if (t > longest) longest = t, at = j;
      }
    double buckets = 1;
    while (buckets < double(2 * longest + 2)) buckets *= 2;
    if (at >= 0)
      parts_.push_back({"projections[" + std::to_string(at) + "].delay",
                        "the event calendar: " + count_text(buckets) + " tick buckets for the longest delay, " +
                            std::to_string(longest) + " ticks",
                        buckets * bytes_per_bucket});
  }

  void order(const data_summary& data) {
    const auto& s = m_.schedule();
    double n = double(s.epochs()) * double(data.train_rows);
    if (s.max_samples()) n = std::min(n, double(s.max_samples()));
    parts_.push_back({"schedule.epochs",
                      "the sample order: " + count_text(n) + " training steps (" + std::to_string(s.epochs()) +
                          " epochs x " + std::to_string(data.train_rows) + " samples" +
                          (s.max_samples() ? ", at most schedule.max_samples" : "") + ")",
                      n * bytes_per_order_entry});
  }

  void datasets(const data_summary& data) {
    const bool teacher = m_.data().has_teacher();
    for (auto [rows, field] : {std::pair{data.train_rows, "train"}, std::pair{data.test_rows, "test"}}) {
      const double values = double(rows) * double(data.cols);
      parts_.push_back({teacher ? std::string("data.teacher.") + field + "_samples"
                                : std::string("data.idx.") + field + "_images",
                        std::string("the ") + field + " set: " + count_text(double(rows)) + " samples x " +
                            count_text(double(data.cols)) + " values",
                        values * bytes_per_value + double(rows)});
    }
  }

  const v1::Model& m_;
  std::map<std::string, int> index_;
  std::vector<part> parts_;
};

}  // namespace

std::uint64_t check_model_memory(const v1::Model& m, const data_summary& data, const report_fn& add) {
  std::vector<part> parts = estimator(m).parts(data);
  double total = 0;
  for (const part& p : parts) total += p.bytes;
  const std::uint64_t limit = physical_memory_bytes();
  const auto as_bytes = [](double b) { return b >= 1.8e19 ? ~std::uint64_t{0} : static_cast<std::uint64_t>(b); };
  if (total > double(limit)) {
    std::stable_sort(parts.begin(), parts.end(), [](const part& a, const part& b) { return a.bytes > b.bytes; });
    std::string largest;
    for (std::size_t k = 0; k < parts.size() && k < 3 && parts[k].bytes > 0; ++k)
      largest += (k ? "; " : "") + parts[k].what + " = " + bytes_text(as_bytes(parts[k].bytes));
    add(parts.front().path, "the model needs about " + bytes_text(as_bytes(total)) + " of memory, mostly " + largest +
                                "; allowed: at most this machine's physical memory, " + bytes_text(limit) +
                                " (docs/limits.md lists what each part costs)");
  }
  return as_bytes(total);
}

}  // namespace phaseless::io
