#pragma once
// IDX dataset files (the MNIST family format: big-endian magic, dims, ubyte data),
// plain or gzip-compressed. Every failure is a core::user_error naming the file.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "sim/core/dataset.hpp"

namespace phaseless::io {

struct idx_header {
  std::uint8_t type = 0;               // 0x08 = unsigned byte (the only type accepted)
  std::vector<std::uint32_t> dims;     // e.g. {60000, 28, 28} for images, {60000} for labels
  bool gzip = false;                   // file was gzip-compressed
};

// Reads and checks only the header (cheap; used by `phaseless validate`).
idx_header read_idx_header(const std::filesystem::path& file);

// The largest label among the first `limit` (0: all) of a 1-D label file: validation
// checks it against the OUTPUT population without loading the images. Throws
// core::user_error like load_idx (not 1-D, truncated, ...).
std::uint8_t read_idx_label_max(const std::filesystem::path& labels, std::size_t limit);

// Loads an image file and its label file. Images become rows of `cols = prod(dims[1:])`
// floats, each byte multiplied by pixel_scale. `limit` = 0 loads all rows, else the first
// `limit` (error if the files hold fewer). classes = max label + 1.
core::dataset load_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                       double pixel_scale, std::size_t limit);

}  // namespace phaseless::io
