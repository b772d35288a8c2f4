#pragma once
// Shared by the libFuzzer targets: a private scratch folder per process, and writing
// the fuzzer's bytes to a file there (the readers under test take paths).
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace phaseless::fuzz {

namespace fs = std::filesystem;

// <tmp>/phaseless_fuzz_<pid>/, made once. `data` links to the tiny IDX files of the
// model tests, so a model's "../data/..." paths resolve from the "m" folder.
inline const fs::path& scratch() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("phaseless_fuzz_" + std::to_string(::getpid()));
    fs::create_directories(d / "m");
    std::error_code ec;
    fs::create_directory_symlink(fs::path(PHASELESS_SOURCE_DIR) / "tests" / "models" / "data", d / "data", ec);
    return d;
  }();
  return dir;
}

inline fs::path write_file(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const fs::path p = scratch() / name;
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return p;
}

}  // namespace phaseless::fuzz
