#include "core/input/item_destination.hpp"

#include "core/model/environment.hpp"

namespace evrelay {

ItemDestination destination_of(const InputItem& item, const ReplayTarget& target) {
    ItemDestination destination{target.env_name.value_or(k_flag_environment_name), target.sdk,
                                target.metadata};
    if (item.envelope) {
        if (!target.env_name) {
            destination.env_name = item.envelope->env_name;
        }
        destination.sdk = item.envelope->sdk;
        destination.metadata = item.envelope->metadata;
    }
    return destination;
}

} // namespace evrelay
