#pragma once
// A labelled dataset held in memory: samples are rows of `x` (already scaled),
// `labels` are class ids, `y` optionally holds real-valued targets (regression).
// The kernel only reads it; loading lives in sim/io.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace phaseless::core {

struct dataset {
  std::size_t rows = 0;
  std::size_t cols = 0;                 // features per sample
  std::vector<float> x;                 // rows * cols, row-major
  std::vector<std::uint8_t> labels;     // rows (classification); empty for regression
  std::size_t classes = 0;              // number of label values (max label + 1 or declared)
  std::size_t target_cols = 0;          // regression targets per sample; 0 for classification
  std::vector<float> y;                 // rows * target_cols

  std::span<const float> sample(std::size_t r) const { return {x.data() + r * cols, cols}; }
  std::span<const float> target(std::size_t r) const { return {y.data() + r * target_cols, target_cols}; }
};

}  // namespace phaseless::core
