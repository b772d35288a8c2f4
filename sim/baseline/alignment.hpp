#pragma once
// Feedback-alignment probes (spec dp-fa.md §5): how well the fixed random feedback
// B of a projection agrees with the transposed forward weights W^T, measured on the
// current weights (a probe at evaluation points; learning never reads it).
//   weight_cosine  cos(W, B) over all synapses (two-layer model: cos(beta, b))
//   signal_cosine  mean over probe samples of cos(B^T delta, W^T delta): the error
//                  the pre population receives vs the one backprop would send it
//                  (Lillicrap's angle between B e and W^T e)
#include <string>
#include <vector>

#include "sim/core/dataset.hpp"
#include "sim/core/network_spec.hpp"

namespace phaseless::baseline {

struct alignment {
  std::size_t projection;   // index into network_spec::projections (random feedback only)
  double weight_cosine = 0;
  double signal_cosine = 0;
};

template <class Real>
std::vector<alignment> measure_alignment(const core::network_spec& spec,
                                         const std::vector<core::synapse_matrix<Real>>& w,
                                         const std::vector<const std::vector<Real>*>& bias,
                                         const core::dataset& data, std::size_t rows);

}  // namespace phaseless::baseline
