// libFuzzer target: the IDX reader (plain and gzip), header, label maximum and full load.
// Input: one byte L, then L bytes of a label file, then the image file.
#include <algorithm>
#include <cstdint>

#include "sim/core/errors.hpp"
#include "sim/io/idx.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t n_labels = std::min<std::size_t>(data[0], size - 1);
  const auto labels = phaseless::fuzz::write_file("labels", data + 1, n_labels);
  const auto images = phaseless::fuzz::write_file("images", data + 1 + n_labels, size - 1 - n_labels);
  namespace io = phaseless::io;
  auto attempt = [](auto&& f) {
    try {
      f();
    } catch (const phaseless::core::user_error&) {
    }
  };
  attempt([&] { io::read_idx_header(images); });
  attempt([&] { io::read_idx_label_max(labels, 2); });
  attempt([&] { io::load_idx(images, labels, 1.0 / 255, data[0] % 2); });   // all rows, or the first
  return 0;
}
