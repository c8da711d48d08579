#include "core/upstream/sender_split.hpp"

#include "core/json/json_scan.hpp"

namespace evrelay {
namespace {

std::string as_array(std::string_view first_element, std::string_view last_element) {
    // The elements of one half are contiguous in the original body, so the bytes from the start
    // of the first to the end of the last (separators included) are copied in one piece.
    const char* begin = first_element.data();
    const char* end = last_element.data() + last_element.size();
    std::string out;
    out.reserve(static_cast<std::size_t>(end - begin) + 2);
    out.push_back('[');
    out.append(begin, end);
    out.push_back(']');
    return out;
}

} // namespace

std::optional<ArrayHalves> split_array_in_halves(std::string_view array_body) {
    std::vector<std::string_view> elements;
    if (!util::array_element_spans(array_body, elements) || elements.size() < 2) {
        return std::nullopt;
    }
    const std::size_t half = elements.size() / 2;
    ArrayHalves halves;
    halves.first = as_array(elements.front(), elements[half - 1]);
    halves.second = as_array(elements[half], elements.back());
    halves.first_events = half;
    halves.second_events = elements.size() - half;
    return halves;
}

} // namespace evrelay
