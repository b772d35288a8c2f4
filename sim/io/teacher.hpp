#pragma once
// Synthetic teacher-student regression data (phaseless.v1.Teacher).
#include "phaseless.pb.h"
#include "sim/core/dataset.hpp"

namespace phaseless::io {

// Draws the training (test = false) or test set. The teacher's weights depend only
// on the seed, so both sets come from the same teacher; the inputs differ.
core::dataset make_teacher_data(const phaseless::v1::Teacher& t, std::uint64_t model_seed, bool test);

}  // namespace phaseless::io
