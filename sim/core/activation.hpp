#pragma once
// Activation functions f and their derivatives, evaluated at the pre-activation.
#include <cmath>

namespace phaseless::core {

enum class activation_kind { identity, relu, tanh, sigmoid };

template <class Real>
inline Real activate(activation_kind k, Real x) {
  switch (k) {
    case activation_kind::identity: return x;
    case activation_kind::relu: return x > 0 ? x : Real(0);
    case activation_kind::tanh: return std::tanh(x);
    case activation_kind::sigmoid: return Real(1) / (Real(1) + std::exp(-x));
  }
  return x;
}

// f'(x). ReLU'(0) = 0, as in the reference code (x > 0).
template <class Real>
inline Real activate_prime(activation_kind k, Real x) {
  switch (k) {
    case activation_kind::identity: return 1;
    case activation_kind::relu: return x > 0 ? Real(1) : Real(0);
    case activation_kind::tanh: {
      const Real t = std::tanh(x);
      return Real(1) - t * t;
    }
    case activation_kind::sigmoid: {
      const Real s = Real(1) / (Real(1) + std::exp(-x));
      return s * (Real(1) - s);
    }
  }
  return 1;
}

}  // namespace phaseless::core
