// The table the build generates (src/web/CMakeLists.txt).
#pragma once

#include <vector>

namespace cinevault::web {

struct EmbeddedFile {
  const char* path;  // as served, without the leading '/'
  const char* begin;
  const char* end;
};

// Served path -> the file under the web folder it comes from, for the node_modules bundles.
struct VendorFile {
  const char* path;
  const char* source;
};

const std::vector<EmbeddedFile>& embedded_files();
const std::vector<VendorFile>& vendor_files();

}  // namespace cinevault::web
