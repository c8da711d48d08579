#include "core/upstream/dry_run_printer.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

using namespace evrelay;

namespace {

// Captures what the printer writes, through a real FILE*.
struct MemoryFile {
    char* data = nullptr;
    std::size_t size = 0;
    std::FILE* file = open_memstream(&data, &size);
    ~MemoryFile() {
        if (file != nullptr) {
            std::fclose(file);
        }
        std::free(data);
    }
    std::string text() {
        std::fflush(file);
        return std::string(data, size);
    }
};

} // namespace

TEST_CASE("DryRunPrinter::submit", "[dry-run]") {
    Environment environment;
    environment.name = "default";
    environment.sdk_key = "sdk-secret-key-1234";
    EnvironmentTable environments(std::vector<Environment>{environment});
    MemoryFile out;
    DryRunPrinter printer(out.file, environments, {"http://127.0.0.1:9", "evrelay/test", true});

    Payload payload;
    payload.id = "11111111-2222-4333-8444-555555555555";
    payload.env_name = "default";
    payload.metadata = PayloadMetadata{4, ""};
    payload.body = R"([{"kind":"custom"}])";
    payload.event_count = 1;
    printer.submit(std::move(payload));

    const std::string text = out.text();
    CHECK_THAT(text, Catch::StartsWith("POST http://127.0.0.1:9/bulk\n"));
    CHECK_THAT(text, Catch::Contains("Authorization: sdk-****1234\n"));
    CHECK_THAT(text, !Catch::Contains("secret"));
    CHECK_THAT(text, Catch::Contains("Content-Encoding: gzip\n"));
    CHECK_THAT(text,
               Catch::EndsWith("# 1 events, 19 bytes uncompressed\n\n[{\"kind\":\"custom\"}]\n\n"));
    CHECK(printer.payloads() == 1);
    CHECK(printer.events() == 1);

    SECTION("an environment without the credential of the payload's kind is called out") {
        Payload mobile;
        mobile.env_name = "default";
        mobile.sdk = SdkKind::mobile;
        mobile.body = "[]";
        printer.submit(std::move(mobile));
        CHECK_THAT(out.text(),
                   Catch::Contains("# not sendable: environment \"default\" has no mobile key"));
        CHECK(printer.without_credential() == 1);
    }
}
