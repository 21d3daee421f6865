// A fresh temporary folder for a benchmark's journals and checkpoints, removed with all
// in it however the run ends.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "evring/error.hpp"

namespace evring::bench {

class ScratchFolder {
 public:
  // "<parent>/evring-bench-XXXXXX". Throws Error(io) naming --dir if it cannot be made.
  explicit ScratchFolder(const std::filesystem::path& parent) {
    std::string pattern = (parent / "evring-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw Error(ErrorCode::io, "cannot make a folder under " + parent.string() + ": " +
                                     errno_text(errno) + " (pass --dir DIR, a writable folder)");
    }
    path_ = pattern;
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  ~ScratchFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace evring::bench
