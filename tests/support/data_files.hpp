#pragma once
// Writers of small dataset files for the data-source tests: .npy arrays, CIFAR-10
// binary batches. Written byte by byte here, independently of the readers under test.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace phaseless::test::data {

namespace fs = std::filesystem;

// A .npy file (format 1.0): magic, version, header dict padded to a multiple of 64.
inline void write_npy(const fs::path& file, const std::string& descr, const std::vector<std::uint64_t>& shape,
                      const void* data, std::size_t bytes, bool fortran = false) {
  std::string dims;
  for (auto d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 1);   // "(3, 4)" but "(3,)"
  if (!dims.empty() && dims.back() == ' ') dims.pop_back();
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(file, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  out.put(char(len & 0xff)).put(char(len >> 8));
  out << header;
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

template <class T>
void write_npy(const fs::path& file, const std::string& descr, const std::vector<std::uint64_t>& shape,
               const std::vector<T>& v) {
  write_npy(file, descr, shape, v.data(), v.size() * sizeof(T));
}

// CIFAR-10 binary batches with `per_file` records each: record r of file f (global index
// g) has label g % 10 and pixel p = (g + p) % 256.
inline void write_cifar10(const fs::path& dir, std::size_t per_file) {
  fs::create_directories(dir);
  std::size_t g = 0;
  auto batch = [&](const std::string& name) {
    std::ofstream out(dir / name, std::ios::binary);
    for (std::size_t r = 0; r < per_file; ++r, ++g) {
      out.put(char(g % 10));
      for (std::size_t p = 0; p < 3072; ++p) out.put(char((g + p) % 256));
    }
  };
  for (int k = 1; k <= 5; ++k) batch("data_batch_" + std::to_string(k) + ".bin");
  g = 1000;
  batch("test_batch.bin");
}

}  // namespace phaseless::test::data
