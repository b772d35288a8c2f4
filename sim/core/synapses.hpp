#pragma once
// The synapses of one projection, stored post-major: row i holds the in-synapses
// of post-neuron i. This is the layout in which (a) a post-neuron computes its
// prediction as one dot product, (b) it sends its error back along the same row
// (feedback through W^T is an axpy over row i), and (c) it updates its own synapses
// (R1) contiguously. Dense projections keep no index arrays.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/types.hpp"

namespace phaseless::core {

template <class Real>
struct synapse_matrix {
  std::string name;
  index_t n_post = 0, n_pre = 0;
  bool dense = true;
  std::vector<std::uint64_t> row_ptr;   // sparse: n_post + 1 offsets
  std::vector<index_t> col;             // sparse: pre index of each synapse, ascending in a row
  std::vector<Real> w;                  // one weight per synapse

  std::uint64_t row_begin(index_t i) const { return dense ? std::uint64_t(i) * n_pre : row_ptr[i]; }
  std::uint64_t row_end(index_t i) const { return dense ? std::uint64_t(i + 1) * n_pre : row_ptr[i + 1]; }
  index_t pre_of(std::uint64_t k) const { return dense ? index_t(k % n_pre) : col[k]; }
  std::uint64_t size() const { return w.size(); }
  // Row i as a dense vector of length n_pre (zeros where no synapse), for snapshots.
  void dense_row(index_t i, Real* out) const {
    for (index_t j = 0; j < n_pre; ++j) out[j] = 0;
    for (auto k = row_begin(i); k < row_end(i); ++k) out[pre_of(k)] = w[k];
  }
};

// The same synapses in another precision (engines take their own copy of a spec).
template <class To, class From>
synapse_matrix<To> convert(const synapse_matrix<From>& s) {
  synapse_matrix<To> t;
  t.name = s.name;
  t.n_post = s.n_post;
  t.n_pre = s.n_pre;
  t.dense = s.dense;
  t.row_ptr = s.row_ptr;
  t.col = s.col;
  t.w.assign(s.w.begin(), s.w.end());
  return t;
}

}  // namespace phaseless::core
