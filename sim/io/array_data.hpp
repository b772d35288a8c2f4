#pragma once
// Datasets beyond IDX: NumPy .npy files, HDF5 datasets and CIFAR-10's binary batches.
// Each source is first described (header only: shape and dtype, cheap; used by
// `phaseless validate`) and then loaded into a core::dataset. Every failure is a
// core::user_error naming the model field and the file.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/core/dataset.hpp"

namespace phaseless::io {

enum class elem_type { u8, i8, u16, i16, u32, i32, u64, i64, f32, f64 };

struct array_info {
  elem_type type = elem_type::u8;
  std::vector<std::uint64_t> shape;     // row-major; shape[0] = samples
  std::uint64_t data_offset = 0;        // .npy: bytes before the data
};

// Text for messages: "uint8", "float32", ...
const char* type_name(elem_type t);
// Shape as "100x28x28" (or "scalar").
std::string shape_text(const std::vector<std::uint64_t>& shape);

// Where an array comes from, for messages: the model field and the file (and, for HDF5,
// the dataset path inside it).
struct array_ref {
  std::string field;                    // e.g. "data.npy.train_images"
  std::filesystem::path file;
  std::string dataset;                  // HDF5 only
  std::string where() const;            // "data.npy.train_images: file.npy"
};

// Reads and checks a .npy header: magic, version, little-endian, C order, allowed dtype,
// and that the file holds all the data the shape promises.
array_info read_npy_info(const array_ref& a);
// The same for an HDF5 dataset (numeric, rank >= 1).
array_info read_hdf5_info(const array_ref& a);

// The number of elements of `shape`; fails naming `a` when it overflows or when the array
// (of elements of `bytes_each`) could not fit in this machine's memory.
std::uint64_t checked_elements(const array_ref& a, const std::vector<std::uint64_t>& shape, std::size_t bytes_each);

// Checks an image/label array pair (ranks, dtypes, equal counts) and returns its sample
// count; the messages name the fields. Images: rank >= 2, uint8 or float; labels: rank 1,
// integer.
std::uint64_t check_pair(const array_ref& images, const array_info& ii, const array_ref& labels,
                         const array_info& li);

// Values as loaded from any source, before they become a dataset.
struct raw_arrays {
  std::vector<std::uint8_t> bytes;      // uint8 images (rows * cols), or
  std::vector<float> floats;            // float images (rows * cols)
  std::vector<std::int64_t> labels;     // rows
  std::size_t rows = 0, cols = 0;
};

// check_pair, then the arrays to fill for the first `limit` samples (0: all): rows and
// values per sample set, nothing read yet. Fails naming `images` when it holds fewer.
raw_arrays sized_pair(const array_ref& images, const array_info& ii, const array_ref& labels, const array_info& li,
                      std::size_t limit);

// Turns raw arrays into a dataset: uint8 images -> byte * pixel_scale + pixel_offset,
// float images as stored; labels checked to lie in 0..255.
core::dataset to_dataset(raw_arrays&& r, double pixel_scale, double pixel_offset, const array_ref& labels);

// The first `rows` labels of a checked label array (for `validate`: label range and classes).
std::vector<std::int64_t> read_npy_labels(const array_ref& labels, const array_info& li, std::size_t rows);
std::vector<std::int64_t> read_hdf5_labels(const array_ref& labels, const array_info& li, std::size_t rows);

// Loads the first `limit` rows (0: all) of an image/label pair.
raw_arrays load_npy_pair(const array_ref& images, const array_ref& labels, std::size_t limit);
raw_arrays load_hdf5_pair(const array_ref& images, const array_ref& labels, std::size_t limit);

// CIFAR-10 binary batches in `dir`: the training files (data_batch_1..5.bin) or the test
// file (test_batch.bin). cifar10_files lists them; cifar10_rows checks sizes (a whole number
// of 3073-byte records) and returns the record count.
std::vector<std::filesystem::path> cifar10_files(const std::filesystem::path& dir, bool test);
std::uint64_t cifar10_rows(const std::string& field, const std::filesystem::path& dir, bool test);
raw_arrays load_cifar10(const std::string& field, const std::filesystem::path& dir, bool test, std::size_t limit);

}  // namespace phaseless::io
