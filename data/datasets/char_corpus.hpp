#pragma once
// A character-level corpus for language-model examples: the bytes of some text files, a
// vocabulary of the bytes that occur, and a train / held-out split.
//
// Characters are bytes: a UTF-8 letter outside ASCII is two or more ids, as in Karpathy's
// char-rnn on raw bytes. The default corpus is the text of Debian's `fortunes` package
// (scripts/setup installs it): about 2.6 MB of quotations, jokes and poems.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::data {

// The text files of the fortunes package, sorted by name: the regular files of
// $REEL_FORTUNES_DIR when set (and not empty), else /usr/share/games/fortunes, leaving out the
// strfile indexes (*.dat) and the *.u8 symlinks (the same text again). A missing or empty
// folder is an error that says how to install it.
std::vector<std::string> fortunes_default_files();

class CharCorpus {
 public:
  // Reads the files (in order, concatenated as they are), builds the sorted vocabulary of the
  // bytes that occur, and splits the text: the last floor(size * heldout_fraction) characters
  // are the held-out part, the rest the training part. No file may be missing or empty;
  // heldout_fraction is in [0, 1) and must leave at least one training character.
  static CharCorpus from_files(const std::vector<std::string>& paths,
                               double heldout_fraction = 0.1);

  std::int64_t vocab_size() const { return static_cast<std::int64_t>(vocabulary_.size()); }
  Tensor train() const { return train_; }      // int64 [n_train] of character ids
  Tensor heldout() const { return heldout_; }  // int64 [n_heldout] (may be empty)
  // Ids of the characters of `text`; each must be in the vocabulary.
  std::vector<std::int64_t> encode(std::string_view text) const;
  // The text of an integer tensor of ids (any shape, read in row-major order; any device).
  std::string decode(const Tensor& ids) const;
  // The characters by id: vocabulary()[id], sorted by byte value.
  const std::string& vocabulary() const { return vocabulary_; }

 private:
  CharCorpus() = default;
  std::string vocabulary_;
  std::int16_t id_of_[256] = {};  // byte -> id, -1 when the byte is not in the vocabulary
  Tensor train_;
  Tensor heldout_;
};

}  // namespace reel::data
