#pragma once
// Counter-based random numbers: the value is a pure function of (seed, stream,
// counter), so it does not depend on how work is split across shards or threads
// (R7). The mixer is SplitMix64's finalizer applied to a keyed counter.
#include <cmath>
#include <cstdint>
#include <string_view>

namespace phaseless::core {

constexpr std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A stable 64-bit hash of a name, for deriving per-projection streams from names.
constexpr std::uint64_t hash_name(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;   // FNV-1a
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

class counter_rng {
 public:
  counter_rng(std::uint64_t seed, std::uint64_t stream) : key_(mix64(seed ^ mix64(stream + 0x632be59bd9b4e019ull))) {}
  std::uint64_t at(std::uint64_t counter) const { return mix64(key_ ^ mix64(counter)); }
  // Sequential use: next() draws counter 0, 1, 2, ...
  std::uint64_t next() { return at(counter_++); }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }            // [0, 1)
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }       // bias < 2^-40 for our n
  double normal() {   // Box-Muller; draws two counters
    double u1 = uniform(), u2 = uniform();
    if (u1 <= 0) u1 = 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t key_;
  std::uint64_t counter_ = 0;
};

}  // namespace phaseless::core
