/** A Redis connection's driver, from its config. */
import { DEFAULT_REDIS_PREFIX, type RedisConnectionConfig } from '../../config/define.ts';
import { redisTarget } from './connect.ts';
import { RedisDriver } from './RedisDriver.ts';

export function openRedis(name: string, config: RedisConnectionConfig): RedisDriver {
  return new RedisDriver(name, redisTarget(config), config.prefix ?? DEFAULT_REDIS_PREFIX);
}
