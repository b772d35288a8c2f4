#pragma once
// Shared by the libFuzzer targets: a private scratch folder per process, and writing
// the fuzzer's bytes to a file there (the readers under test take paths).
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

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

// A model-target input: the model text, optionally followed by a line "%%" and one --set
// argument per line (at most 16). Writes the model to a scratch file; returns its path
// and fills `sets`.
inline fs::path write_model_input(const std::uint8_t* data, std::size_t size, std::vector<std::string>& sets) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::size_t cut = in.find("\n%%\n");
  if (cut != std::string::npos) {
    for (std::size_t a = cut + 4; a <= in.size() && sets.size() < 16;) {
      const std::size_t b = std::min(in.find('\n', a), in.size());
      sets.push_back(in.substr(a, b - a));
      a = b + 1;
    }
  } else {
    cut = in.size();
  }
  return write_file("m/model.textproto", data, cut);
}

}  // namespace phaseless::fuzz
