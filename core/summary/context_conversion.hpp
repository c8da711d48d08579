#pragma once

#include "core/json/json_validator.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// The kinds and keys of an event's context: what the summariser needs of it on every event
// (the summary's contextKinds, a feature event's contextKeys, the index events' LRU key).
// Reused from event to event: its strings keep their capacity.
class ContextIdentity {
  public:
    struct KindKey {
        std::string kind;
        std::string key;
    };

    void clear() {
        m_count = 0;
        m_lru_key.clear();
    }
    // Adds one individual context; kind and key decoded.
    void add(std::string_view kind, std::string_view key);
    // Sorts the kinds (a multi-kind context's) and builds the LRU key.
    void finish();

    const KindKey* begin() const { return m_entries.data(); }
    const KindKey* end() const { return m_entries.data() + m_count; }
    std::size_t size() const { return m_count; }
    // The key the index events' LRU remembers, as go-sdk-events' FullyQualifiedKey: the key of
    // a user; "kind:key" for another kind; "kind:key:kind:key…" by sorted kind for a multi-kind
    // context ('%' and ':' in keys escaped as %25 and %3A, so that no two contexts share one).
    const std::string& lru_key() const { return m_lru_key; }

  private:
    std::vector<KindKey> m_entries; // [0, m_count) in use; the rest keeps its capacity
    std::size_t m_count = 0;
    std::string m_lru_key;
};

// Reads the contexts of events (schema 4 `context`) and converts the users of old events
// (schema 1–3 `user`) to contexts of kind "user", as the SDKs convert a legacy user (Node's
// legacyToSingleKind, Go's ldcontext old-user unmarshalling):
// - `key` stays the key; a number or boolean key becomes its text (Node: String(user.key));
//   a user without a key (or with a null, object or array key) is unreadable;
// - name, firstName, lastName, email, avatar, country, ip, when not null, become attributes;
// - `anonymous: true` is kept (false and null are left out, as Go writes a context);
// - the members of `custom` become attributes, except `kind`, `key` and `_meta`, which a
//   context reserves, and those a top-level attribute of the same name overrides (Node's
//   order); a custom `anonymous` counts only as a boolean and without a top-level one; null
//   values are left out (Go's builder removes an attribute set to null);
// - `privateAttributeNames` (the SDK-side list, attributes still present): those attributes
//   are removed and named in `_meta.redactedAttributes`, as an SDK's event formatter does;
// - `privateAttrs` (the event-side list: the SDK already removed those attributes) is named in
//   `_meta.redactedAttributes` too. Go and Node drop it (they never read event users), and
//   Relay forwards the user untouched; naming them keeps what the SDK said it redacted;
// - `secondary` and other top-level members are dropped: contexts have no secondary key, and
//   both SDKs ignore unknown members of a legacy user.
// Not thread-safe (scratch buffers); one per EventSummarizer.
class ContextConverter {
  public:
    // How an event's `context` or `user` object is written: a schema-4 context when it has a
    // "kind" member, else an old user (ldcontext tells them apart the same way, and so reads
    // either in either member, as Relay does).
    enum class Shape { context, legacy_user };

    // Reads the kinds and keys of `object`, a part of the text `document` last validated.
    // nullopt when it is no context: a context needs a non-empty string kind and key ("multi":
    // its other members are contexts without kind); a user needs a key. Of a member named
    // twice the last counts, as the JSON readers of the SDKs and the events service take it.
    std::optional<Shape> read(const JsonValidator& document, const JsonPart& object,
                              ContextIdentity& out);

    // Appends the schema-4 context of `object` (read() accepted it as `shape`): a context as it
    // is, compacted; a user converted as above.
    void append_context(const JsonValidator& document, const JsonPart& object, Shape shape,
                        std::string& out);

  private:
    bool read_user(ContextIdentity& out);
    bool read_context(const JsonValidator& document, const JsonPart& kind, ContextIdentity& out);
    void append_user_as_context(const JsonValidator& document, std::string& out);

    std::vector<JsonPart> m_members; // the parts of the object read()
    std::vector<JsonPart> m_custom;
    std::vector<JsonPart> m_inner;
    std::vector<std::string> m_private_names; // privateAttributeNames, decoded
    std::vector<std::string> m_redacted;      // what _meta.redactedAttributes lists
    std::string m_scratch;
};

// Appends {"kind":"key",…}, a feature or custom event's contextKeys.
void append_context_keys(const ContextIdentity& identity, std::string& out);

} // namespace evrelay
