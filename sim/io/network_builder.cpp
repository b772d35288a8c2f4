#include "sim/io/network_builder.hpp"

#include <algorithm>
#include <map>

#include "sim/core/errors.hpp"
#include "sim/core/rng.hpp"
#include "sim/io/weight_draws.hpp"
#include "sim/rules/event_network.hpp"

namespace phaseless::io {

using namespace phaseless::core;
namespace pb = phaseless::v1;

namespace {

activation_kind to_activation(pb::Activation a) {
  switch (a) {
    case pb::RELU: return activation_kind::relu;
    case pb::TANH: return activation_kind::tanh;
    case pb::SIGMOID: return activation_kind::sigmoid;
    default: return activation_kind::identity;
  }
}

role_kind to_role(pb::Role r) {
  return r == pb::INPUT ? role_kind::input : r == pb::OUTPUT ? role_kind::output : role_kind::hidden;
}

fixed_point to_fixed_point(const pb::MessageFormat& f) {
  return {f.bits(), f.scale(), f.rounding() == pb::MessageFormat::STOCHASTIC};
}

feedback_kind to_feedback(pb::FeedbackKind k) {
  return k == pb::NONE ? feedback_kind::none : k == pb::RANDOM ? feedback_kind::random : feedback_kind::symmetric;
}

// (channels, height, width); an unset shape is (size, 1, 1).
struct shape3 {
  index_t c, h, w;
};
shape3 shape_of(const pb::Population& p) {
  if (!p.has_shape()) return {p.size(), 1, 1};
  return {p.shape().channels(), p.shape().height(), p.shape().width()};
}

// Builds the spec from a validated model. Model population i becomes spec populations
// first_[i] .. first_[i] + copies(i) - 1 (one unless unrolled).
class builder {
 public:
  builder(const pb::Model& m, network_spec& spec) : m_(m), spec_(spec) {}

  void run() {
    for (int i = 0; i < m_.populations_size(); ++i) add_population(i);
    for (const auto& q : m_.projections()) add_projection(q);
    for (int i = 0; i < m_.populations_size(); ++i) add_bias(i);
    spec_.topo = topological_order(spec_);
    // "In topological order of their post population": stable, so copies and the
    // projections into one population keep the file's order.
    std::vector<std::size_t> rank(spec_.populations.size());
    for (std::size_t k = 0; k < spec_.topo.size(); ++k) rank[spec_.topo[k]] = k;
    std::stable_sort(spec_.projections.begin(), spec_.projections.end(),
                     [&](const projection_spec& a, const projection_spec& b) { return rank[a.post] < rank[b.post]; });
  }

 private:
  std::uint32_t steps(int i) const { return m_.populations(i).unroll() >= 2 ? m_.populations(i).unroll() : 0; }
  // Spec index of model population i at step t (1-based; ignored when not unrolled).
  pop_t at(int i, std::uint32_t t) const { return first_[i] + (steps(i) ? t - 1 : 0); }
  int model_index(const std::string& name) const { return index_.at(name); }

  void add_population(int i) {
    const pb::Population& p = m_.populations(i);
    index_[p.name()] = i;
    first_.push_back(static_cast<pop_t>(spec_.populations.size()));
    const std::uint32_t T = steps(i);
    for (std::uint32_t t = 1; t <= std::max<std::uint32_t>(T, 1); ++t) {
      population_spec ps;
      ps.name = T ? p.name() + "@" + std::to_string(t) : p.name();
      ps.role = to_role(p.role());
      ps.size = p.size();
      ps.activation = to_activation(p.activation());
      ps.bias = p.bias();
      ps.bias_plastic = !p.fixed_bias();
      ps.combine = p.combine() == pb::PRODUCT    ? combine_kind::product
                   : p.combine() == pb::BILINEAR ? combine_kind::bilinear
                   : p.combine() == pb::SOFTMAX  ? combine_kind::softmax
                                                 : combine_kind::sum;
      const pop_t v = static_cast<pop_t>(spec_.populations.size());
      if (ps.role == role_kind::input) spec_.input = v;
      if (ps.role == role_kind::output) spec_.output = v;
      spec_.populations.push_back(std::move(ps));
    }
  }

  // One shared parameter vector of n entries drawn in index order from `seed`.
  int add_tie(const std::string& name, std::size_t n, const pb::WeightInit& init, std::uint64_t seed,
              double fan_in, double fan_out, double lr_scale, double weight_decay) {
    tie_spec t;
    t.name = name;
    t.theta.resize(n);
    counter_rng rng(seed, 0);
    for (auto& x : t.theta) x = draw(init, rng, fan_in, fan_out);
    t.lr_scale = lr_scale;
    t.weight_decay = weight_decay;
    spec_.ties.push_back(std::move(t));
    return static_cast<int>(spec_.ties.size()) - 1;
  }
  // n = rows x fan_in parameters, one row per post-neuron (per output channel of a conv).
  int add_weight_tie(const pb::Projection& q, std::size_t n, double fan_in, double fan_out) {
    const int t = add_tie(q.name(), n, q.init(), stream_seed(q.init(), m_.seed(), "weights:" + q.name()), fan_in,
                          fan_out, lr_scale(q), q.weight_decay());
    spec_.ties[t].rows = static_cast<index_t>(double(n) / fan_in);
    return t;
  }
  static double lr_scale(const pb::Projection& q) { return q.lr_scale() == 0 ? 1.0 : q.lr_scale(); }

  // A spec projection with empty synapses; the caller fills syn (rows, cols, weights).
  projection_spec start(const pb::Projection& q, const std::string& name, pop_t pre, pop_t post) {
    projection_spec ps;
    ps.name = name;
    ps.pre = pre;
    ps.post = post;
    ps.syn.name = name;
    ps.syn.n_pre = spec_.populations[pre].size;
    ps.syn.n_post = spec_.populations[post].size;
    ps.feedback = to_feedback(q.feedback().kind());
    ps.lr_scale = lr_scale(q);
    ps.weight_decay = q.weight_decay();
    ps.plastic = !q.fixed();
    return ps;
  }

  // Untied weights, today's law: row i draws with fan_in = its length, fan_out = n_post.
  void draw_untied(const pb::Projection& q, synapse_matrix<double>& s) {
    s.w.resize(s.dense ? std::uint64_t(s.n_post) * s.n_pre : s.col.size());
    counter_rng rng(stream_seed(q.init(), m_.seed(), "weights:" + q.name()), 0);
    for (index_t i = 0; i < s.n_post; ++i) {
      const double fan_in = double(s.row_end(i) - s.row_begin(i));
      for (auto k = s.row_begin(i); k < s.row_end(i); ++k) s.w[k] = draw(q.init(), rng, fan_in, s.n_post);
    }
  }

  // Delays and random feedback B, per synapse and per copy (streams keyed by `name`).
  void finish(const pb::Projection& q, projection_spec&& ps) {
    const auto& s = ps.syn;
    const std::uint64_t n = s.w.size();
    ps.forward = draw_delays(q.delay(), n, mix64(m_.seed() ^ hash_name("delay:" + ps.name)));
    if (ps.feedback == feedback_kind::random && !q.feedback().tie_to_forward()) {
      // B: the layout of W (row i = post i's feedback synapses), its own stream, never trained.
      ps.b = s;
      counter_rng brng(stream_seed(q.feedback().init(), m_.seed(), "feedback:" + ps.name), 0);
      for (index_t i = 0; i < s.n_post; ++i) {
        const double fan_in = double(s.row_end(i) - s.row_begin(i));
        for (auto k = s.row_begin(i); k < s.row_end(i); ++k) ps.b.w[k] = draw(q.feedback().init(), brng, fan_in, s.n_post);
      }
    }
    ps.backward = draw_delays(q.feedback().delay(), n, mix64(m_.seed() ^ hash_name("feedback-delay:" + ps.name)));
    ps.forward.format = to_fixed_point(q.message());
    ps.backward.format = to_fixed_point(q.feedback_message());
    spec_.projections.push_back(std::move(ps));
  }

  void add_projection(const pb::Projection& q) {
    const int a = model_index(q.pre()), b = model_index(q.post());
    const std::uint32_t Ta = steps(a), Tb = steps(b);
    if (Tb == 0) {   // into a population that is not unrolled: from pre's last step if unrolled
      projection_spec ps = start(q, q.name(), at(a, Ta), at(b, 0));
      if (q.has_conv()) {
        conv(q, ps);
      } else if (q.has_operand() || q.has_rows()) {
        q.has_operand() ? operand(q, ps.syn) : rows(q, ps.syn);
        draw_untied(q, ps.syn);
      } else {
        connect_untied(q, ps.syn);
        draw_untied(q, ps.syn);
      }
      finish(q, std::move(ps));
      return;
    }
    const index_t n_post = m_.populations(b).size(), n_pre = m_.populations(a).size();
    const std::uint32_t k = Ta == 0 ? q.step_slice() : 0;
    const index_t row = k ? k : n_pre;
    // One tie per projection, torch nn.Linear layout (n_post x row), as a dense draw.
    const int tie = add_weight_tie(q, std::size_t(n_post) * row, row, n_post);
    for (std::uint32_t t = (a == b ? 2 : 1); t <= Tb; ++t) {
      const pop_t pre = a == b ? at(a, t - 1) : at(a, Ta ? t : 0);
      projection_spec ps = start(q, q.name() + "@" + std::to_string(t), pre, at(b, t));
      auto& s = ps.syn;
      if (k) {   // step t reads pre neurons [(t-1) k, t k)
        s.dense = false;
        s.row_ptr.push_back(0);
        for (index_t i = 0; i < n_post; ++i) {
          for (index_t j = 0; j < k; ++j) {
            s.col.push_back((t - 1) * k + j);
            ps.param.push_back(i * k + j);
          }
          s.row_ptr.push_back(s.col.size());
        }
      } else {
        ps.param.resize(std::size_t(n_post) * n_pre);
        for (std::size_t x = 0; x < ps.param.size(); ++x) ps.param[x] = static_cast<std::uint32_t>(x);
      }
      bind(ps, tie);
      finish(q, std::move(ps));
    }
  }

  // Rows of an untied projection: dense, sparse (each possible synapse with probability p,
  // its own stream) or one-to-one.
  void connect_untied(const pb::Projection& q, synapse_matrix<double>& s) {
    s.dense = q.has_dense() || q.connectivity_case() == pb::Projection::CONNECTIVITY_NOT_SET;
    if (s.dense) return;
    s.row_ptr.push_back(0);
    if (q.has_one_to_one()) {
      for (index_t i = 0; i < s.n_post; ++i) {
        s.col.push_back(i);
        s.row_ptr.push_back(s.col.size());
      }
      return;
    }
    counter_rng mask(mix64(m_.seed() ^ hash_name("mask:" + q.name())), 0);
    for (index_t i = 0; i < s.n_post; ++i) {
      for (index_t j = 0; j < s.n_pre; ++j)
        if (mask.uniform() < q.sparse().p()) s.col.push_back(j);
      s.row_ptr.push_back(s.col.size());
    }
  }

  // A shaped population as a matrix: C rows, H*W columns (neuron c*H*W + p).
  static std::pair<index_t, index_t> matrix_of(const pb::Population& p) {
    const shape3 s = shape_of(p);
    return {s.c, s.h * s.w};
  }

  // One operand of a BILINEAR population P = X' Y' (X: the pre of its first in-projection,
  // Y: of its second; ' = transposed per `operand { transpose }`). Post neuron (r, c) =
  // r*N + c reads X'[r, m] (first) or Y'[m, c] (second), m = 0..K-1: ascending pre indices.
  void operand(const pb::Projection& q, synapse_matrix<double>& s) {
    const pb::Population& post = m_.populations(model_index(q.post()));
    std::vector<const pb::Projection*> in;
    for (const auto& x : m_.projections())
      if (x.post() == q.post()) in.push_back(&x);
    const bool left = in.front() == &q;
    // Plain variables, not a structured binding: the lambda below captures pc, which
    // clang 14 does not allow for a binding.
    const auto pre_matrix = matrix_of(m_.populations(model_index(q.pre())));   // pre as stored
    const index_t pr = pre_matrix.first, pc = pre_matrix.second;
    const bool tr = q.operand().transpose();
    const index_t K = tr ? (left ? pr : pc) : (left ? pc : pr);             // the inner dimension
    const index_t N = matrix_of(post).second;                               // columns of P
    // Pre index of X'[i, j] (X' = X, or X^T when transposed).
    auto at = [&](index_t i, index_t j) { return tr ? j * pc + i : i * pc + j; };
    s.dense = false;
    s.row_ptr.push_back(0);
    for (index_t n = 0; n < s.n_post; ++n) {
      const index_t r = n / N, c = n % N;
      for (index_t m = 0; m < K; ++m) s.col.push_back(left ? at(r, m) : at(m, c));
      s.row_ptr.push_back(s.col.size());
    }
  }

  // The one in-projection of a SOFTMAX population (same shape as pre): post neuron
  // (r, c) reads pre row r, neurons r*N .. r*N + N - 1 (the engine normalizes over the row
  // and predicts position n mod N = c).
  void rows(const pb::Projection& q, synapse_matrix<double>& s) {
    const index_t N = matrix_of(m_.populations(model_index(q.post()))).second;
    s.dense = false;
    s.row_ptr.push_back(0);
    for (index_t n = 0; n < s.n_post; ++n) {
      for (index_t j = 0; j < N; ++j) s.col.push_back((n / N) * N + j);
      s.row_ptr.push_back(s.col.size());
    }
  }

  // Tied synapses start at their parameter's value.
  void bind(projection_spec& ps, int tie) {
    ps.tie = tie;
    const auto& theta = spec_.ties[tie].theta;
    ps.syn.w.resize(ps.param.size());
    for (std::size_t s = 0; s < ps.param.size(); ++s) ps.syn.w[s] = theta[ps.param[s]];
  }

  // A convolution as sparse rows over the padded window (layout: the header).
  void conv(const pb::Projection& q, projection_spec& ps) {
    const shape3 in = shape_of(m_.populations(model_index(q.pre())));
    const shape3 out = shape_of(m_.populations(model_index(q.post())));
    const index_t K = q.conv().kernel(), S = std::max<index_t>(q.conv().stride(), 1);
    const long P = q.conv().padding();
    auto& s = ps.syn;
    s.dense = false;
    s.row_ptr.push_back(0);
    for (index_t co = 0; co < out.c; ++co)
      for (index_t oy = 0; oy < out.h; ++oy)
        for (index_t ox = 0; ox < out.w; ++ox) {
          for (index_t ci = 0; ci < in.c; ++ci)
            for (index_t ky = 0; ky < K; ++ky)
              for (index_t kx = 0; kx < K; ++kx) {
                const long iy = long(oy) * S - P + ky, ix = long(ox) * S - P + kx;
                if (iy < 0 || ix < 0 || iy >= long(in.h) || ix >= long(in.w)) continue;   // padding
                s.col.push_back(static_cast<index_t>((ci * in.h + iy) * in.w + ix));
                ps.param.push_back(((co * in.c + ci) * K + ky) * K + kx);
              }
          s.row_ptr.push_back(s.col.size());
        }
    const int tie = add_weight_tie(q, std::size_t(out.c) * in.c * K * K, double(in.c) * K * K, double(out.c) * K * K);
    bind(ps, tie);
  }

  // The bias, drawn from the first in-projection's bias stream (as nn.Linear does). Shared
  // (a tie) when unrolled or per channel (height * width > 1); else one per neuron.
  void add_bias(int i) {
    const pb::Population& p = m_.populations(i);
    const pop_t v0 = first_[i];
    const std::uint32_t copies = std::max<std::uint32_t>(steps(i), 1);
    if (!p.bias()) return;
    const pb::Projection* q = nullptr;
    for (const auto& x : m_.projections())
      if (x.post() == p.name()) {
        q = &x;
        break;
      }
    const index_t n = p.size();
    if (q == nullptr) {   // validation rejects this (unreachable); keep a defined value
      for (std::uint32_t t = 0; t < copies; ++t) spec_.populations[v0 + t].b.assign(n, 0.0);
      return;
    }
    const auto& bi = q->has_bias_init() ? q->bias_init() : q->init();
    const std::uint64_t seed = stream_seed(bi, m_.seed(), "bias:" + q->name()) ^ 0x5bd1e995u;
    const int a = model_index(q->pre());
    double fan_in = m_.populations(a).size(), fan_out = n;
    if (q->has_conv()) {
      const double kk = double(q->conv().kernel()) * q->conv().kernel();
      fan_in = shape_of(m_.populations(a)).c * kk;
      fan_out = shape_of(p).c * kk;
    } else if (q->has_one_to_one()) {
      fan_in = 1;
    } else if (q->step_slice() && steps(i) && !steps(a)) {
      fan_in = q->step_slice();
    }
    const shape3 sh = shape_of(p);
    const bool per_channel = sh.h * sh.w > 1;
    if (!per_channel && copies == 1) {   // one bias per neuron, untied (every MLP)
      counter_rng rng(seed, 0);
      auto& b = spec_.populations[v0].b;
      b.resize(n);
      for (auto& x : b) x = draw(bi, rng, fan_in, fan_out);
      return;
    }
    // Biases carry the first in-projection's learning-rate scale and no weight decay (as untied).
    const int tie = add_tie(p.name() + ".bias", per_channel ? sh.c : n, bi, seed, fan_in, fan_out, lr_scale(*q), 0);
    std::vector<std::uint32_t> param(n);
    for (index_t j = 0; j < n; ++j) param[j] = per_channel ? j / (sh.h * sh.w) : j;
    for (std::uint32_t t = 0; t < copies; ++t) {
      auto& ps = spec_.populations[v0 + t];
      ps.bias_tie = tie;
      ps.bias_param = param;
      ps.b.resize(n);
      for (index_t j = 0; j < n; ++j) ps.b[j] = spec_.ties[tie].theta[param[j]];
    }
  }

  const pb::Model& m_;
  network_spec& spec_;
  std::map<std::string, int> index_;
  std::vector<pop_t> first_;
};

}  // namespace

network_spec build_network_spec(const pb::Model& m) {
  network_spec spec;
  builder(m, spec).run();
  spec.learning = build_learning_spec(m);
  return spec;
}

tick_t presentation_interval(const pb::Model& m, const network_spec& spec) {
  const tick_t need = rules::critical_path(spec) + 1;
  const tick_t given = m.schedule().presentation_interval();
  if (given == 0) return need;
  if (given < need)
    throw user_error("schedule.presentation_interval: " + std::to_string(given) +
                     " ticks is shorter than this network's critical path; allowed: 0 (auto) or at least " +
                     std::to_string(need) + " ticks, so that samples do not overlap");
  return given;
}

}  // namespace phaseless::io
