// The web page's files (HTML, CSS, JS and the npm bundles it loads), by the path the page
// asks for: "index.html", "watch.html", "assets/library.js", "assets/vendor/hls.min.js".
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "cinevault/core/result.hpp"

namespace cinevault::web {

struct Asset {
  std::string_view bytes;                  // valid as long as the Asset (and its source) lives
  std::shared_ptr<const std::string> owned;  // holds the bytes when they were read from disk
  const char* content_type = "application/octet-stream";
  std::string etag;                        // strong, quoted
};

class Assets {
 public:
  virtual ~Assets() = default;
  // not_found for a path that is not part of the page.
  virtual Result<Asset> find(std::string_view path) const = 0;
};

// The files as they were when the binary was built (embedded by the build).
std::unique_ptr<Assets> make_embedded_assets();
// The same paths read from a web/ folder on every request, so a page edit shows on reload.
std::unique_ptr<Assets> make_directory_assets(std::filesystem::path web_dir);

}  // namespace cinevault::web
