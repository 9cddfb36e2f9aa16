// The character corpus (see char_corpus.hpp).
#include "data/datasets/char_corpus.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "backends/checked_math.hpp"

namespace reel::data {

std::vector<std::string> fortunes_default_files() {
  namespace fs = std::filesystem;
  const char* env = std::getenv("REEL_FORTUNES_DIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : "/usr/share/games/fortunes";
  std::error_code ec;
  check(fs::is_directory(dir, ec),
        "fortunes_default_files: no folder '{}': install the fortunes package with scripts/setup "
        "(Debian's fortunes), or set REEL_FORTUNES_DIR",
        dir);
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const fs::path& p = entry.path();
    if (entry.is_symlink(ec)) continue;                // art.u8 -> art: the same text again
    if (!entry.is_regular_file(ec)) continue;
    if (p.extension() == ".dat" || p.extension() == ".u8") continue;  // strfile's index
    if (p.filename().string().starts_with(".")) continue;
    files.push_back(p.string());
  }
  check(!ec, "fortunes_default_files: cannot list '{}': {}", dir, ec.message());
  check(!files.empty(),
        "fortunes_default_files: no fortune files in '{}': install the fortunes package with "
        "scripts/setup",
        dir);
  std::sort(files.begin(), files.end());
  return files;
}

CharCorpus CharCorpus::from_files(const std::vector<std::string>& paths,
                                  double heldout_fraction) {
  check(!paths.empty(), "CharCorpus::from_files: no files given");
  check(heldout_fraction >= 0.0 && heldout_fraction < 1.0,
        "CharCorpus::from_files: heldout_fraction must be in [0, 1), got {}", heldout_fraction);
  std::string text;
  for (const std::string& path : paths) {
    std::error_code ec;
    check(!std::filesystem::is_directory(path, ec),
          "CharCorpus::from_files: '{}' is a directory, not a text file", path);
    std::ifstream in(path, std::ios::binary);
    check(in.is_open(), "CharCorpus::from_files: cannot open '{}': {}", path,
          std::strerror(errno));
    const std::size_t before = text.size();
    text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    check(!in.bad(), "CharCorpus::from_files: reading '{}' failed", path);
    check(text.size() > before, "CharCorpus::from_files: '{}' is empty", path);
  }

  CharCorpus corpus;
  std::array<bool, 256> seen{};
  for (const char c : text) seen[static_cast<unsigned char>(c)] = true;
  std::fill(std::begin(corpus.id_of_), std::end(corpus.id_of_), std::int16_t{-1});
  for (int b = 0; b < 256; ++b) {
    if (!seen[b]) continue;
    corpus.id_of_[b] = static_cast<std::int16_t>(corpus.vocabulary_.size());
    corpus.vocabulary_.push_back(static_cast<char>(b));
  }

  const auto total = static_cast<std::int64_t>(text.size());
  // floor(total * fraction), computed in long double so a 2^53+ corpus still rounds down right.
  const auto n_heldout = static_cast<std::int64_t>(
      std::floor(static_cast<long double>(total) * static_cast<long double>(heldout_fraction)));
  const std::int64_t n_train = total - n_heldout;
  check(n_train >= 1,
        "CharCorpus::from_files: heldout_fraction {} of {} characters leaves no training text",
        heldout_fraction, total);
  corpus.train_ = empty({n_train}, kInt64);
  corpus.heldout_ = empty({n_heldout}, kInt64);
  std::int64_t* train = corpus.train_.data_ptr<std::int64_t>();
  std::int64_t* heldout = corpus.heldout_.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n_train; ++i) {
    train[i] = corpus.id_of_[static_cast<unsigned char>(text[i])];
  }
  for (std::int64_t i = 0; i < n_heldout; ++i) {
    heldout[i] = corpus.id_of_[static_cast<unsigned char>(text[n_train + i])];
  }
  return corpus;
}

std::vector<std::int64_t> CharCorpus::encode(std::string_view text) const {
  std::vector<std::int64_t> ids(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const std::int16_t id = id_of_[byte];
    check(id >= 0, "CharCorpus::encode: character {} (byte 0x{:02x}) at position {} is not in "
          "the vocabulary of {} characters", byte >= 0x20 && byte < 0x7f ?
          fmt::format("'{}'", text[i]) : std::string("(unprintable)"), byte, i,
          vocabulary_.size());
    ids[i] = id;
  }
  return ids;
}

std::string CharCorpus::decode(const Tensor& ids) const {
  check(ids.defined(), "CharCorpus::decode: the ids tensor is undefined");
  const DType t = ids.dtype();
  check(t != kBool && !is_floating(t) && !is_complex(t),
        "CharCorpus::decode: ids must be an integer tensor, got {}", t);
  const std::vector<std::int64_t> values = ids.to_vector<std::int64_t>();
  std::string text(values.size(), '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    check(values[i] >= 0 && values[i] < vocab_size(),
          "CharCorpus::decode: id {} at position {} is outside the vocabulary [0, {})", values[i],
          i, vocab_size());
    text[i] = vocabulary_[static_cast<std::size_t>(values[i])];
  }
  return text;
}

}  // namespace reel::data
