#pragma once
// The model's data source (data { idx | npy | hdf5 | cifar10 | teacher }), one entry point
// for the runner and one for `validate`.
#include <cstdint>
#include <functional>
#include <string>

#include "sim/core/dataset.hpp"
#include "sim/io/model_loader.hpp"

namespace phaseless::io {

// Loads the training (test = false) or test split, subset, scaled and offset.
core::dataset load_split(const loaded_model& m, bool test);

// The shape of an array source's split without loading it: the sample count and the
// values per sample. Problems go to `add(field, message)`; returns false then.
struct split_shape {
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::int64_t max_label = -1;   // over the rows the run uses; -1: not read (cifar10: 0..9 by format)
  std::string labels_field;      // the field that names the labels
};
bool describe_array_split(const loaded_model& m, bool test, split_shape& out,
                          const std::function<void(const std::string&, const std::string&)>& add);

// One line for `phaseless validate`: the source and its sample counts, e.g.
// "idx: 10000 training and 2000 test samples of 784 values (after subsets)".
std::string describe_data(const loaded_model& m);

}  // namespace phaseless::io
