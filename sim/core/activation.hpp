#pragma once
// Activation functions f and their derivatives, evaluated at the pre-activation.
#include <cmath>
#include <type_traits>

namespace phaseless::core {

enum class activation_kind { identity, relu, tanh, sigmoid };

// Calls body(K) with the activation as a compile-time constant (std::integral_constant),
// so that a loop over rows holds no switch per row and vectorizes; activate<Real>(K, x)
// and activate_prime<Real>(K, x) are the same functions, so every value is unchanged.
template <class Body>
inline void with_activation(activation_kind f, Body&& body) {
  using K = activation_kind;
  switch (f) {
    case K::identity: return body(std::integral_constant<K, K::identity>{});
    case K::relu: return body(std::integral_constant<K, K::relu>{});
    case K::tanh: return body(std::integral_constant<K, K::tanh>{});
    case K::sigmoid: return body(std::integral_constant<K, K::sigmoid>{});
  }
}

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
