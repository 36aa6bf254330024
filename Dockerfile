# syntax=docker/dockerfile:1
# Build: docker build -t nanobanana .     Run: see compose.yaml (JWT_SECRET and Redis are required).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project file alone, so the package layer is cached across code changes.
COPY NanoBanana.sln ./
COPY src/NanoBanana/NanoBanana.csproj src/NanoBanana/
RUN dotnet restore src/NanoBanana/NanoBanana.csproj -r linux-x64
COPY src/ src/
# For a runtime, so the app and its packages are precompiled (ReadyToRun): less JIT at start-up.
RUN dotnet publish src/NanoBanana/NanoBanana.csproj -c Release -r linux-x64 --self-contained false -o /out --no-restore /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /out ./
# Logs and local uploads are the only paths the app writes; they belong to the image's non-root user.
RUN mkdir -p /app/logs /app/data/uploads && chown -R "$APP_UID" /app/logs /app/data
USER $APP_UID
# The app listens on PORT (UseUrls); clear the base image's 8080 default so nothing else is bound.
# The spool beside the local store (one file system, also on a volume at /app/data): an original is stored as a link, not a copy.
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_HTTP_PORTS="" \
    PORT=3001 \
    LISTEN_ADDRESS=0.0.0.0 \
    LOG_DIR=/app/logs \
    LOCAL_STORAGE_PATH=/app/data/uploads \
    UPLOAD_TEMP_PATH=/app/data/spool
# glibc's malloc keeps up to 8 arenas per core for libvips' threads; two bound the idle resident memory.
ENV MALLOC_ARENA_MAX=2
# Blocks under 16 MiB come from malloc's heap, which keeps up to 32 MiB freed: a thumbnail's buffers (the 1024 px copy,
# the WebP encoder's, a few MiB each) reuse its pages instead of faulting in fresh ones (docs/decisions.md, "Footprint").
ENV MALLOC_MMAP_THRESHOLD_=16777216
ENV MALLOC_TRIM_THRESHOLD_=33554432
# A 16 MiB young generation: at 1,000+ posts/s over 10,000 sockets the default few-MiB one collected 15 times a second,
# each pause holding every socket's frames (docs/decisions.md, "Young generation for latency").
ENV DOTNET_GCgen0size=0x1000000
EXPOSE 3001
ENTRYPOINT ["dotnet", "NanoBanana.dll"]
