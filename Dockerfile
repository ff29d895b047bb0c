# A worker image of this repository's example app (app/jobs, config/queue.ts) on Node 24 Alpine.
# Your own project's image is the same: its package.json lists queuework and the driver it uses.
#   docker build -t shop-worker .
#   docker run --rm -e QUEUE_CONNECTION=redis -e REDIS_URL=redis://redis:6379 shop-worker
FROM node:24-alpine
# better-sqlite3 compiles from source where no prebuilt binary fits (musl).
RUN apk add --no-cache python3 make g++
WORKDIR /app
COPY . .
# npm ci also builds dist/ (the `prepare` script). `queue jobs` then compiles the TypeScript job
# files into node_modules/.cache/queue while the folder is writable, so that the unprivileged
# user below starts on an up-to-date cache.
RUN npm ci --no-audit --no-fund && npm cache clean --force && bin/queue.js jobs >/dev/null
USER node
# bin/queue.js starts Node with its memory flags under any sh (BusyBox's included). Node is PID 1
# here and stops on SIGTERM as under any supervisor: in-flight jobs finish, nothing new is taken.
ENTRYPOINT ["bin/queue.js"]
CMD ["work"]
# Healthy while the queue's backend answers: `queue status` exits 1, in one line, when it does not.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["bin/queue.js", "status"]
