#include "sim/io/teacher.hpp"

#include <cmath>

#include "sim/core/activation.hpp"
#include "sim/core/rng.hpp"

namespace phaseless::io {

using namespace phaseless::core;
namespace pb = phaseless::v1;

namespace {
double draw(const pb::WeightInit& w, counter_rng& r) {
  switch (w.law()) {
    case pb::UNIFORM: return r.uniform(-w.scale(), w.scale());
    case pb::CONSTANT: return w.scale();
    case pb::NORMAL: return w.scale() * r.normal();
    default: return r.normal();   // unset: N(0, 1), the papers' teacher
  }
}
activation_kind psi(pb::Activation a) {
  switch (a) {
    case pb::IDENTITY: return activation_kind::identity;
    case pb::TANH: return activation_kind::tanh;
    case pb::SIGMOID: return activation_kind::sigmoid;
    default: return activation_kind::relu;
  }
}
}  // namespace

dataset make_teacher_data(const pb::Teacher& t, std::uint64_t model_seed, bool test) {
  const std::uint64_t seed = t.seed() ? t.seed() : mix64(model_seed ^ hash_name("teacher"));
  counter_rng teacher(seed, 1), inputs(seed, test ? 3 : 2);
  const std::size_t d = t.inputs(), p = t.width(), o = t.outputs();
  const std::size_t n = test && t.test_samples() ? t.test_samples() : t.train_samples();
  dataset ds;
  ds.rows = n;
  ds.cols = d;
  ds.target_cols = o;
  ds.x.resize(n * d);
  ds.y.resize(n * o);
  for (auto& x : ds.x) x = static_cast<float>(inputs.normal());
  if (t.kind() == pb::Teacher::LINEAR) {
    std::vector<double> T(o * d);
    for (auto& v : T) v = draw(t.weights(), teacher);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t i = 0; i < o; ++i) {
        double y = 0;
        for (std::size_t j = 0; j < d; ++j) y += T[i * d + j] * ds.x[r * d + j];
        ds.y[r * o + i] = static_cast<float>(y);
      }
    return ds;
  }
  std::vector<double> W(p * d), beta(p * o);   // W*: p x d (row r = w_r), beta*: o x p
  for (auto& v : W) v = draw(t.weights(), teacher);
  for (auto& v : beta) v = draw(t.weights(), teacher);
  const auto f = psi(t.activation());
  std::vector<double> h(p);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t q = 0; q < p; ++q) {
      double a = 0;
      for (std::size_t j = 0; j < d; ++j) a += W[q * d + j] * ds.x[r * d + j];
      h[q] = activate<double>(f, a);
    }
    for (std::size_t i = 0; i < o; ++i) {
      double y = 0;
      for (std::size_t q = 0; q < p; ++q) y += beta[i * p + q] * h[q];
      ds.y[r * o + i] = static_cast<float>(y / std::sqrt(double(p)));
    }
  }
  return ds;
}

}  // namespace phaseless::io
