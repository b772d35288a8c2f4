#pragma once
// Helpers shared by the model-loader tests (tests/io/test_model_loader*.cpp): where the
// test models live, the user_error text of a load, and a scratch folder.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/model_loader.hpp"

#ifndef PHASELESS_SOURCE_DIR
#error "PHASELESS_SOURCE_DIR must name the repository root"
#endif

namespace phaseless::test::loader {

namespace fs = std::filesystem;
namespace v1 = phaseless::v1;
using phaseless::io::load_model;

inline const fs::path models_dir = fs::path(PHASELESS_SOURCE_DIR) / "tests" / "models";
inline const fs::path minimal = models_dir / "good" / "minimal.textproto";

// The user_error text, or a marker that makes every CHECK on it fail visibly.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const phaseless::core::user_error& e) {
    return e.what();
  }
  return "<no user_error thrown>";
}

inline std::string load_error(const fs::path& file, const std::vector<std::string>& overrides = {}) {
  return error_of([&] { load_model(file, overrides); });
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The first line of a multi-line error message that contains `part`.
inline std::string line_with(const std::string& msg, const std::string& part) {
  std::istringstream in(msg);
  for (std::string line; std::getline(in, line);) {
    if (contains(line, part)) return line;
  }
  return "";
}

inline std::string header_value(std::istream& in, const std::string& key) {
  std::string line;
  std::getline(in, line);
  const std::string prefix = "# " + key + ": ";
  return line.starts_with(prefix) ? line.substr(prefix.size()) : "";
}

// A scratch folder removed at scope exit.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "phaseless_loader_XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path = made;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}


}  // namespace phaseless::test::loader
