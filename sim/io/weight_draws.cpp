#include "sim/io/weight_draws.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace phaseless::io {

using namespace phaseless::core;
namespace pb = phaseless::v1;

std::uint64_t stream_seed(const pb::WeightInit& init, std::uint64_t model_seed, const std::string& what) {
  return init.seed() ? init.seed() : mix64(model_seed ^ hash_name(what));
}

double draw(const pb::WeightInit& init, counter_rng& rng, double fan_in, double fan_out) {
  switch (init.law()) {
    case pb::NORMAL: return init.scale() * rng.normal();
    case pb::UNIFORM: return rng.uniform(-init.scale(), init.scale());
    case pb::CONSTANT: return init.scale();
    case pb::XAVIER_UNIFORM: {
      const double a = (init.scale() == 0 ? 1.0 : init.scale()) * std::sqrt(6.0 / (fan_in + fan_out));
      return rng.uniform(-a, a);
    }
    default: {   // UNIFORM_FAN_IN, the PyTorch nn.Linear default
      const double a = 1.0 / std::sqrt(std::max(fan_in, 1.0));
      return rng.uniform(-a, a);
    }
  }
}

delay_spec draw_delays(const pb::Delay& d, std::uint64_t n, std::uint64_t seed) {
  delay_spec out;
  out.jitter = d.jitter_max();
  out.drop = d.drop_probability();
  out.stream = mix64(seed ^ 0x6a09e667f3bcc908ull);   // its own stream, apart from the delays' draws
  if (!d.has_uniform() || d.uniform().min() == d.uniform().max()) {
    out.class_delay = {static_cast<tick_t>(d.has_uniform() ? d.uniform().min() : d.constant().ticks())};
    return out;
  }
  counter_rng rng(seed, 0);
  const std::uint64_t lo = d.uniform().min(), span = d.uniform().max() - lo + 1;
  std::vector<std::uint32_t> raw(n);
  std::set<std::uint32_t> seen;
  for (auto& r : raw) seen.insert(r = static_cast<std::uint32_t>(lo + rng.below(span)));
  out.class_delay.assign(seen.begin(), seen.end());
  std::map<std::uint32_t, std::uint8_t> klass;
  for (auto v : seen) klass[v] = static_cast<std::uint8_t>(klass.size());
  out.klass.resize(n);
  for (std::uint64_t k = 0; k < n; ++k) out.klass[k] = klass[raw[k]];
  if (out.class_delay.size() == 1) out.klass.clear();
  return out;
}

}  // namespace phaseless::io
