#include "core/flags/flag_file.hpp"

#include "core/util/file_contents.hpp"

#include <utility>

namespace evrelay {

Result<std::shared_ptr<const FlagData>> load_flag_file(const std::filesystem::path& path) {
    Result<std::string> text = util::read_file_contents(path);
    if (!text) {
        return tl::unexpected(std::move(text.error()));
    }
    Result<FlagData> data = parse_flag_data(*text);
    if (!data) {
        return make_error(ErrorKind::config, path.string() + ": " + data.error().message);
    }
    return std::make_shared<const FlagData>(std::move(*data));
}

} // namespace evrelay
