#include "core/util/file_contents.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace evrelay::util {

Result<std::string> read_file_contents(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error(ErrorKind::io, path.string() + ": cannot open: " + std::strerror(errno));
    }
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) {
        return make_error(ErrorKind::io, path.string() + ": cannot read: " + std::strerror(errno));
    }
    return content.str();
}

} // namespace evrelay::util
