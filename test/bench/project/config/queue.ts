// The bench project's config is the shipped one (every value from the environment), so each
// `queue work` child is configured exactly as a deployed worker would be; the harness points it
// at its own table, SQLite file or Redis key prefix through DB_* and REDIS_* variables.
export { default } from '../../../../config/queue.ts';
