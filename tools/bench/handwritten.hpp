#pragma once
// The independent reference of the benchmark: plain batch-1 backprop of a dense MLP
// with softmax cross-entropy, written as loops over arrays, as anyone would write it
// by hand. It uses none of the engine's code (no kernels, no specs, no rules): it
// takes the layer sizes, activations, initial weights and biases as plain arrays
// (copied from the model by the caller), the data as rows of floats, and the rate.
// Same compiler and flags as the engine, so the ratio measures the engine's design.
//
// Per sample: h_0 = x; h_l = f_l(W_l h_{l-1} + b_l); d_L = onehot(y) - softmax(z_L);
// d_{l-1} = f'(z_{l-1}) * W_l^T d_l; W_l += lr d_l h_{l-1}^T, b_l += lr d_l.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace phaseless::bench {

enum class act { identity, relu, tanh, sigmoid };

struct hand_layer {
  int n_in = 0, n_out = 0;
  act f = act::identity;
  std::vector<float> w;   // n_out x n_in, row-major
  std::vector<float> b;   // n_out
};

class handwritten_mlp {
 public:
  explicit handwritten_mlp(std::vector<hand_layer> layers, float lr) : L_(std::move(layers)), lr_(lr) {
    z_.resize(L_.size());
    h_.resize(L_.size() + 1);
    d_.resize(L_.size());
    h_[0].resize(L_.front().n_in);
    for (std::size_t l = 0; l < L_.size(); ++l) {
      z_[l].resize(L_[l].n_out);
      h_[l + 1].resize(L_[l].n_out);
      d_[l].resize(L_[l].n_out);
    }
  }

  // One training step on one sample; returns its cross-entropy loss.
  double train(const float* x, int label) {
    std::copy(x, x + L_.front().n_in, h_[0].begin());
    for (std::size_t l = 0; l < L_.size(); ++l) {
      const hand_layer& a = L_[l];
      const float* in = h_[l].data();
      for (int i = 0; i < a.n_out; ++i) {
        const float* row = a.w.data() + std::size_t(i) * a.n_in;
        z_[l][i] = dot(row, in, a.n_in) + a.b[i];
        h_[l + 1][i] = f(a.f, z_[l][i]);
      }
    }
    const std::size_t top = L_.size() - 1;
    const auto& z = z_[top];
    float m = z[0];
    for (float v : z) m = std::max(m, v);
    float sum = 0;
    for (float v : z) sum += std::exp(v - m);
    for (std::size_t i = 0; i < z.size(); ++i) d_[top][i] = (int(i) == label ? 1.f : 0.f) - std::exp(z[i] - m) / sum;
    const double loss = std::log(sum) - (z[label] - m);
    for (std::size_t l = top; l > 0; --l) {   // d_{l-1} = f'(z_{l-1}) * W_l^T d_l
      const hand_layer& a = L_[l];
      auto& g = d_[l - 1];
      std::fill(g.begin(), g.end(), 0.f);
      for (int i = 0; i < a.n_out; ++i) {
        const float e = d_[l][i];
        const float* row = a.w.data() + std::size_t(i) * a.n_in;
        for (int j = 0; j < a.n_in; ++j) g[j] += e * row[j];
      }
      for (std::size_t j = 0; j < g.size(); ++j) g[j] *= fprime(L_[l - 1].f, z_[l - 1][j]);
    }
    for (std::size_t l = 0; l < L_.size(); ++l) {   // W += lr d h^T, b += lr d
      hand_layer& a = L_[l];
      const float* in = h_[l].data();
      for (int i = 0; i < a.n_out; ++i) {
        const float e = lr_ * d_[l][i];
        float* row = a.w.data() + std::size_t(i) * a.n_in;
        for (int j = 0; j < a.n_in; ++j) row[j] += e * in[j];
        a.b[i] += e;
      }
    }
    return loss;
  }

  const std::vector<hand_layer>& layers() const { return L_; }

 private:
  // Sixteen partial sums (two AVX registers), the usual hand optimization that lets
  // the compiler vectorize a reduction without -ffast-math.
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
  static float f(act k, float v) {
    switch (k) {
      case act::relu: return v > 0 ? v : 0.f;
      case act::tanh: return std::tanh(v);
      case act::sigmoid: return 1.f / (1.f + std::exp(-v));
      default: return v;
    }
  }
  static float fprime(act k, float v) {
    switch (k) {
      case act::relu: return v > 0 ? 1.f : 0.f;
      case act::tanh: {
        const float t = std::tanh(v);
        return 1.f - t * t;
      }
      case act::sigmoid: {
        const float s = 1.f / (1.f + std::exp(-v));
        return s * (1.f - s);
      }
      default: return 1.f;
    }
  }

  std::vector<hand_layer> L_;
  float lr_;
  std::vector<std::vector<float>> z_, h_, d_;
};

}  // namespace phaseless::bench
