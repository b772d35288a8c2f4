#pragma once
// UTF-8 checks for text that goes into traces (HDF5 strings marked UTF-8 must be UTF-8,
// or h5py's .decode() fails) and for model files (read as UTF-8, with or without a BOM).
#include <cstddef>
#include <string>
#include <string_view>

namespace phaseless::io::utf8 {

// Length of the well-formed UTF-8 sequence at s[i] (1..4), or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF are not well-formed).
inline std::size_t sequence_at(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  const unsigned char c1 = b(i + 1);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
    return 0;
  return n;
}

// Offset of the first byte that does not start a well-formed sequence, or npos.
inline std::size_t first_invalid(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = sequence_at(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

// `s` unchanged when it is UTF-8; otherwise every byte that is not part of a
// well-formed sequence is read as Latin-1 (the usual other encoding of file names and
// command lines) and re-encoded, so the result is always UTF-8.
inline std::string from_utf8_or_latin1(std::string_view s) {
  if (first_invalid(s) == std::string_view::npos) return std::string(s);
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = sequence_at(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      const auto c = static_cast<unsigned char>(s[i++]);
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

}  // namespace phaseless::io::utf8
