// CIFAR-10's binary batches: records of 1 label byte and 3072 image bytes (the R, G and
// B 32x32 planes, row-major: a (3, 32, 32) tensor flattened as the INPUT population is).
#include <fstream>

#include "sim/core/errors.hpp"
#include "sim/io/array_data.hpp"

namespace phaseless::io {
namespace {
constexpr std::size_t image_bytes = 3 * 32 * 32;
constexpr std::size_t record_bytes = 1 + image_bytes;
}  // namespace

std::vector<std::filesystem::path> cifar10_files(const std::filesystem::path& dir, bool test) {
  if (test) return {dir / "test_batch.bin"};
  std::vector<std::filesystem::path> files;
  for (int k = 1; k <= 5; ++k) files.push_back(dir / ("data_batch_" + std::to_string(k) + ".bin"));
  return files;
}

std::uint64_t cifar10_rows(const std::string& field, const std::filesystem::path& dir, bool test) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw core::user_error(field + ": folder not found: " + dir.string() +
                           "; allowed: the cifar-10-batches-bin folder (relative paths resolve against the model's folder)");
  std::uint64_t rows = 0;
  for (const auto& f : cifar10_files(dir, test)) {
    const auto size = std::filesystem::file_size(f, ec);
    if (ec)
      throw core::user_error(field + ": " + f.string() + " not found; allowed: a folder holding data_batch_1.bin .. "
                             "data_batch_5.bin and test_batch.bin (CIFAR-10 binary version)");
    if (size == 0 || size % record_bytes != 0)
      throw core::user_error(field + ": " + f.string() + " is " + std::to_string(size) +
                             " bytes, not a whole number of 3073-byte records (1 label + 3x32x32 pixels); "
                             "is it the binary version (cifar-10-binary.tar.gz)?");
    rows += size / record_bytes;
  }
  return rows;
}

raw_arrays load_cifar10(const std::string& field, const std::filesystem::path& dir, bool test, std::size_t limit) {
  const std::uint64_t n = cifar10_rows(field, dir, test);
  if (limit > n)
    throw core::user_error(field + ": " + dir.string() + " holds " + std::to_string(n) + " " +
                           (test ? "test" : "training") + " images, fewer than the " + std::to_string(limit) + " asked for");
  raw_arrays r;
  r.rows = limit == 0 ? n : limit;
  r.cols = image_bytes;
  r.bytes.resize(r.rows * image_bytes);
  r.labels.resize(r.rows);
  std::size_t row = 0;
  std::vector<char> rec(record_bytes);
  for (const auto& f : cifar10_files(dir, test)) {
    std::ifstream in(f, std::ios::binary);
    while (row < r.rows && in.read(rec.data(), record_bytes)) {
      const auto label = static_cast<unsigned char>(rec[0]);
      if (label > 9)
        throw core::user_error(field + ": " + f.string() + ": label " + std::to_string(label) + " of record " +
                               std::to_string(row) + " is out of range; allowed: 0 to 9");
      r.labels[row] = label;
      std::copy(rec.begin() + 1, rec.end(), reinterpret_cast<char*>(r.bytes.data() + row * image_bytes));
      ++row;
    }
    if (row == r.rows) break;
    if (!in.eof()) throw core::user_error(field + ": " + f.string() + ": read error");
  }
  return r;
}

}  // namespace phaseless::io
