#!/usr/bin/env bash
# Writes Wolverine's handler code into src/NanoBanana/Internal/Generated, which production runs
# (TypeLoadMode.Static: no Roslyn at start-up). Run it after changing a handler's signature, its
# middleware or its services, and commit the result; GeneratedCodeTests fails until you do.
set -euo pipefail
cd "$(dirname "$0")/../src/NanoBanana"
# The old code may no longer compile against the changed handlers, so the app is built without it.
rm -rf Internal/Generated
# codegen builds the host without starting it; the settings only have to be valid (port 1: no Redis is asked).
ASPNETCORE_ENVIRONMENT=Production REDIS_URL=127.0.0.1:1 JWT_SECRET=codegen-only-secret-codegen-only-secret-0123456789 \
  dotnet run -c Release -- codegen write | grep -c "^Wrote generated code file" | sed 's/^/files written: /'
