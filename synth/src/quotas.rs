//! Every number jobgen checks a project against that AWS sets: service quotas and API length
//! limits, each with where it is documented. Validation ([`crate::validate`]) checks the ones a
//! single field can break; the model stage ([`crate::model`]) checks the ones only the whole
//! stack shows. Nothing here depends on another module, so every stage can use it.

/// Tags per resource (every taggable resource the stack creates gets the project's tags).
/// <https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html>
pub const MAX_TAGS: usize = 50;
/// Longest tag key.
pub const MAX_TAG_KEY_LEN: usize = 128;
/// Longest tag value.
pub const MAX_TAG_VALUE_LEN: usize = 256;
/// awsvpc: subnets per task (`AwsVpcConfiguration.subnets`).
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html>
pub const MAX_SUBNETS: usize = 16;
/// awsvpc: security groups per task.
pub const MAX_SECURITY_GROUPS: usize = 5;
/// The retention values CloudWatch Logs accepts (`RetentionInDays`).
/// <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html>
pub const LOG_RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
/// Fargate ephemeral storage range in GiB (20 is the free default, so setting it means 21+).
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_EphemeralStorage.html>
pub const EPHEMERAL_STORAGE_GIB: std::ops::RangeInclusive<u32> = 21..=200;
/// Lambda memory range in MB.
/// <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>
pub const LAMBDA_MEMORY_MB: std::ops::RangeInclusive<u32> = 128..=10240;
