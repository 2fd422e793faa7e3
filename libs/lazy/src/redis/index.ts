export { RedisTier } from './redis-tier';
export type {
  RedisTierState,
  TierRef,
  TierEntry,
  TierEvent,
  TierLoadResult,
  TierLoadSource,
  TierClaim,
  SharedTierStats,
} from './redis-tier';
export { RedisTierOptions } from './redis-tier.options';
export { JsonTierCodec, type TierCodec } from './codec';
export { RedisTierConfigError, RedisTierUnavailableError, LazyCodecError } from './redis-tier.errors';
export { TierCacheStore } from './tier-store';
