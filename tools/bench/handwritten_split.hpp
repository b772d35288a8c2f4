#pragma once
// The threads' upper bound of the benchmark: the hand-written batch-1 backprop of
// handwritten.hpp with every sweep over a weight matrix split between T threads, as
// anyone would write it by hand for a fixed thread count. It sweeps what the event
// engine sweeps (rows whose error is 0 skip the error pass and the update) and splits
// it the same way: the forward dot and the update by rows of W, the error pass W^T d
// by columns; threads meet at a spin barrier between dependent phases (after each
// layer's forward step, the output errors, each error pass and the updates). None of
// the engine's code.
//
// Its time at T threads over its time at 1 thread is what threads can give this much
// work on this machine at this moment (memory bandwidth, barrier latency, other jobs),
// measured in the same run as the engine's own ratio.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "tools/bench/handwritten.hpp"

namespace phaseless::bench {

class handwritten_split {
 public:
  handwritten_split(std::vector<hand_layer> layers, float lr, unsigned threads)
      : L_(std::move(layers)), lr_(lr), T_(std::max(1u, threads)) {
    z_.resize(L_.size());
    h_.resize(L_.size() + 1);
    d_.resize(L_.size());
    for (std::size_t l = 0; l < L_.size(); ++l) {
      z_[l].resize(L_[l].n_out);
      h_[l + 1].resize(L_[l].n_out);
      d_[l].resize(L_[l].n_out);
    }
  }

  // ReLU or identity layers only (what the benchmark's networks use).
  static bool supports(const std::vector<hand_layer>& layers) {
    for (const auto& l : layers)
      if (l.f != act::relu && l.f != act::identity) return false;
    return !layers.empty();
  }

  // Trains on samples x(k), label(k) for k < n, with T threads; returns the summed loss.
  template <class X, class Y>
  double train(std::size_t n, X&& x, Y&& label) {
    std::vector<std::thread> workers;
    double loss = 0;
    for (unsigned t = 1; t < T_; ++t)
      workers.emplace_back([&, t] {
        for (std::size_t k = 0; k < n; ++k) step(t, x(k), label(k));
      });
    for (std::size_t k = 0; k < n; ++k) loss += step(0, x(k), label(k));
    for (auto& w : workers) w.join();
    return loss;
  }

 private:
  std::pair<int, int> part(int n, unsigned t) const { return {int(std::int64_t(n) * t / T_), int(std::int64_t(n) * (t + 1) / T_)}; }

  // Every thread arrives; the last one to arrive releases the others.
  void barrier() {
    if (T_ == 1) return;
    const unsigned gen = gen_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == T_) {
      arrived_.store(0, std::memory_order_relaxed);
      gen_.store(gen + 1, std::memory_order_release);
      return;
    }
    for (int k = 0; gen_.load(std::memory_order_acquire) == gen; ++k) {
      if (k < 2000) _mm_pause();
      else std::this_thread::yield();
    }
  }

  // One sample, thread t's share. Every thread reads the input x (never written) and the label.
  double step(unsigned t, const float* x, int label) {
    const auto input = [&](std::size_t l) { return l == 0 ? x : h_[l].data(); };
    for (std::size_t l = 0; l < L_.size(); ++l) {   // forward, rows split
      const hand_layer& a = L_[l];
      const auto [lo, hi] = part(a.n_out, t);
      for (int i = lo; i < hi; ++i) {
        z_[l][i] = dot(a.w.data() + std::size_t(i) * a.n_in, input(l), a.n_in) + a.b[i];
        h_[l + 1][i] = relu_or_identity(a.f, z_[l][i]);
      }
      barrier();
    }
    const std::size_t top = L_.size() - 1;
    const auto& z = z_[top];
    float m = z[0];
    for (float v : z) m = std::max(m, v);
    float sum = 0;
    for (float v : z) sum += std::exp(v - m);
    const auto [tlo, thi] = part(int(z.size()), t);   // each thread its own output rows' errors
    for (int i = tlo; i < thi; ++i) d_[top][i] = (i == label ? 1.f : 0.f) - std::exp(z[i] - m) / sum;
    barrier();
    for (std::size_t l = top; l > 0; --l) {   // d_{l-1} = f'(z_{l-1}) * W_l^T d_l, columns split
      const hand_layer& a = L_[l];
      const auto [lo, hi] = part(a.n_in, t);
      float* g = d_[l - 1].data();
      std::fill(g + lo, g + hi, 0.f);
      for (int i = 0; i < a.n_out; ++i) {
        const float e = d_[l][i];
        if (e == 0.f) continue;
        const float* row = a.w.data() + std::size_t(i) * a.n_in;
        for (int j = lo; j < hi; ++j) g[j] += e * row[j];
      }
      if (L_[l - 1].f == act::relu)   // f' is 1 or 0 (identity: 1)
        for (int j = lo; j < hi; ++j)
          if (!(z_[l - 1][j] > 0)) g[j] = 0.f;
      barrier();
    }
    for (std::size_t l = 0; l < L_.size(); ++l) {   // W += lr d h^T, rows split
      hand_layer& a = L_[l];
      const auto [lo, hi] = part(a.n_out, t);
      for (int i = lo; i < hi; ++i) {
        const float e = lr_ * d_[l][i];
        if (e == 0.f) continue;
        float* row = a.w.data() + std::size_t(i) * a.n_in;
        const float* in = input(l);
        for (int j = 0; j < a.n_in; ++j) row[j] += e * in[j];
        a.b[i] += e;
      }
    }
    // The next sample's forward step rewrites h, which the other threads' updates read.
    barrier();
    return t == 0 ? double(std::log(sum) - (z[label] - m)) : 0.0;
  }

  static float dot(const float* a, const float* b, int n) {
    float acc[16] = {};
    int j = 0;
    for (; j + 16 <= n; j += 16)
      for (int k = 0; k < 16; ++k) acc[k] += a[j + k] * b[j + k];
    float s = 0;
    for (; j < n; ++j) s += a[j] * b[j];
    for (float v : acc) s += v;
    return s;
  }
  static float relu_or_identity(act k, float v) { return k == act::relu ? (v > 0 ? v : 0.f) : v; }

  std::vector<hand_layer> L_;
  float lr_;
  unsigned T_;
  std::vector<std::vector<float>> z_, h_, d_;
  alignas(64) std::atomic<unsigned> arrived_{0};
  alignas(64) std::atomic<unsigned> gen_{0};
};

}  // namespace phaseless::bench
