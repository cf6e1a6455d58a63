//! Every number jobgen checks a project against that AWS sets: service quotas and API length
//! limits, each with where it is documented. Validation ([`crate::validate`]) checks the ones a
//! single field can break; the model stage ([`crate::model`]) checks the ones only the whole
//! stack shows ([`Quota`]s). Nothing here depends on another module of the crate, so every stage
//! can use it.

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

/// How many Fargate tasks an account may run at once: its Fargate On-Demand and Spot vCPU quotas,
/// per Region and adjustable (they replaced a quota of 1,000 concurrent tasks per account). No fixed
/// number: [`crate::config::MAX_CONCURRENCY`] is jobgen's own bound on a concurrency limit.
/// <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html#service-quotas-fargate>
pub const FARGATE_CONCURRENCY_SOURCE: &str =
    "https://aws.amazon.com/blogs/containers/migrating-fargate-service-quotas-to-vcpu-based-quotas/";
/// Fargate's launch rate: bursts of 100 tasks, 20 a second sustained, per account and Region.
pub const FARGATE_LAUNCH_RATE_SOURCE: &str =
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html";

/// Longest DynamoDB table name: the longest name CloudFormation may generate for the jobs table,
/// which jobgen does not name. <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html>
pub const MAX_TABLE_NAME_LEN: usize = 255;
/// Longest IAM role name: the longest name CloudFormation may generate for a role jobgen does not
/// name. <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>
pub const MAX_ROLE_NAME_LEN: usize = 64;

/// Longest partition name (`aws-us-gov`).
pub const WORST_PARTITION: usize = 10;
/// Longest region name allowed for: the longest today (`us-isof-south-1`) has 15 characters.
pub const WORST_REGION: usize = 20;
/// An account id.
pub const WORST_ACCOUNT: usize = 12;

/// The longest `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` with a resource part of `resource`
/// characters (`regional` false: the empty region of IAM ARNs). What the model counts for an ARN
/// CloudFormation resolves at deploy time (a `GetAtt … Arn`, an `Fn::Sub` of the pseudo parameters).
pub const fn worst_arn_len(service: &str, regional: bool, resource: usize) -> usize {
    "arn:".len()
        + WORST_PARTITION
        + 1
        + service.len()
        + 1
        + if regional { WORST_REGION } else { 0 }
        + 1
        + WORST_ACCOUNT
        + 1
        + resource
}

/// An AWS limit the model checks the whole stack against ([`crate::model::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Where the limit applies, as the message ends: "AWS allows at most 64 characters *in a Lambda
    /// function name*".
    pub scope: &'static str,
    /// The most AWS accepts.
    pub max: usize,
    /// What [`Quota::max`] counts.
    pub unit: &'static str,
    /// Where AWS documents it.
    pub source: &'static str,
}

const CFN_QUOTAS: &str = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html";
const IAM_QUOTAS: &str = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html";

/// Resources per stack.
pub const CFN_RESOURCES: Quota =
    Quota { scope: "in one CloudFormation stack", max: 500, unit: "resources", source: CFN_QUOTAS };
/// Outputs per template.
pub const CFN_OUTPUTS: Quota =
    Quota { scope: "in one CloudFormation template", max: 200, unit: "outputs", source: CFN_QUOTAS };
/// A template body read from S3, which is how the documented deploy path (`aws cloudformation
/// package`, then `deploy --s3-bucket`) passes it. A body passed inline in the request
/// (`--template-body`) may have only 51,200 bytes, which a project of a few job types already
/// exceeds, so jobgen does not check that one: deploy through S3. The quota page says "1 MB";
/// CloudFormation refuses more than 1,000,000 bytes.
pub const CFN_TEMPLATE_BODY_S3: Quota =
    Quota { scope: "in a CloudFormation template read from S3", max: 1_000_000, unit: "bytes", source: CFN_QUOTAS };
/// Parameters per template (a nested stack's template takes what the root passes it).
pub const CFN_PARAMETERS: Quota =
    Quota { scope: "in one nested stack's template", max: 200, unit: "parameters", source: CFN_QUOTAS };
/// The template's `Description`.
pub const CFN_TEMPLATE_DESCRIPTION: Quota =
    Quota { scope: "in a CloudFormation template description", max: 1024, unit: "bytes", source: CFN_QUOTAS };
/// A resource's logical ID ("resource name").
pub const CFN_LOGICAL_ID: Quota =
    Quota { scope: "in a CloudFormation logical ID", max: 255, unit: "characters", source: CFN_QUOTAS };
/// An output's name.
pub const CFN_OUTPUT_NAME: Quota =
    Quota { scope: "in a CloudFormation output name", max: 255, unit: "characters", source: CFN_QUOTAS };

/// All inline policies of one role together, whitespace not counted.
pub const IAM_ROLE_INLINE_POLICIES: Quota = Quota {
    scope: "in the inline policies of one IAM role (together, whitespace not counted)",
    max: 10_240,
    unit: "characters",
    source: IAM_QUOTAS,
};
/// A role's trust policy: the default quota (adjustable up to 4,096 in Service Quotas; jobgen
/// checks the default, which every account has).
pub const IAM_TRUST_POLICY: Quota = Quota {
    scope: "in an IAM role trust policy (the default quota)",
    max: 2048,
    unit: "characters",
    source: IAM_QUOTAS,
};
/// A role's `Description` (CreateRole).
pub const IAM_ROLE_DESCRIPTION: Quota = Quota {
    scope: "in an IAM role description",
    max: 1000,
    unit: "characters",
    source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
};
/// A role's `Path`.
pub const IAM_PATH: Quota = Quota { scope: "in an IAM path", max: 512, unit: "characters", source: IAM_QUOTAS };

/// A function's name (`FunctionName`).
pub const LAMBDA_FUNCTION_NAME: Quota = Quota {
    scope: "in a Lambda function name",
    max: 64,
    unit: "characters",
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
};
/// A function's `Description`.
pub const LAMBDA_FUNCTION_DESCRIPTION: Quota = Quota {
    scope: "in a Lambda function description",
    max: 256,
    unit: "characters",
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
};
/// A function's environment, keys plus values.
pub const LAMBDA_ENVIRONMENT: Quota = Quota {
    scope: "in a Lambda function's environment (keys and values)",
    max: jobgen_runtime::contract::LAMBDA_ENV_LIMIT_BYTES,
    unit: "bytes",
    source: "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
};
/// A layer's name (`LayerName`).
pub const LAMBDA_LAYER_NAME: Quota = Quota {
    scope: "in a Lambda layer name",
    max: 140,
    unit: "characters",
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_PublishLayerVersion.html",
};
/// A layer version's `Description`.
pub const LAMBDA_LAYER_DESCRIPTION: Quota = Quota {
    scope: "in a Lambda layer description",
    max: 256,
    unit: "characters",
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_PublishLayerVersion.html",
};

/// A rule's `Name`.
pub const EVENTBRIDGE_RULE_NAME: Quota = Quota {
    scope: "in an EventBridge rule name",
    max: 64,
    unit: "characters",
    source: "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
};
/// A rule's `Description`.
pub const EVENTBRIDGE_RULE_DESCRIPTION: Quota = Quota {
    scope: "in an EventBridge rule description",
    max: 512,
    unit: "characters",
    source: "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
};
/// A rule's event pattern: the default quota (adjustable up to 4,096).
pub const EVENTBRIDGE_PATTERN: Quota = Quota {
    scope: "in an EventBridge event pattern (the default quota)",
    max: 2048,
    unit: "characters",
    source: "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html",
};

/// A schedule group's name (`jobgen-<project>`, where the timers are).
pub const SCHEDULER_GROUP_NAME: Quota = Quota {
    scope: "in an EventBridge Scheduler schedule group name",
    max: 64,
    unit: "characters",
    source: "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateScheduleGroup.html",
};

/// A queue's name.
pub const SQS_QUEUE_NAME: Quota = Quota {
    scope: "in an SQS queue name",
    max: 80,
    unit: "characters",
    source: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
};
/// A log group's name.
pub const LOG_GROUP_NAME: Quota = Quota {
    scope: "in a CloudWatch Logs log group name",
    max: 512,
    unit: "characters",
    source: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
};

/// A cluster's name.
pub const ECS_CLUSTER_NAME: Quota = Quota {
    scope: "in an ECS cluster name",
    max: 255,
    unit: "characters",
    source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html",
};
/// A task definition's family.
pub const ECS_FAMILY: Quota = Quota {
    scope: "in an ECS task definition family",
    max: 255,
    unit: "characters",
    source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html",
};
/// RunTask's `startedBy`, which the rule matches.
pub const ECS_STARTED_BY: Quota = Quota {
    scope: "in an ECS startedBy",
    max: 128,
    unit: "characters",
    source: "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html",
};
/// A task definition as RegisterTaskDefinition receives it.
pub const ECS_TASK_DEFINITION_SIZE: Quota = Quota {
    scope: "in an ECS task definition",
    max: 64 * 1024,
    unit: "bytes",
    source: "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html",
};
/// Tags on one resource (the project's tags and `jobgen:project` go on every taggable resource, and
/// on every task through RunTask's `tags`, which takes at most 50 as well:
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html>).
pub const TAGS_PER_RESOURCE: Quota = Quota {
    scope: "on one resource",
    max: MAX_TAGS,
    unit: "tags",
    source: "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html",
};

/// Every quota the model checks, for documentation and for the test that each has a boundary test.
pub const MODEL_QUOTAS: [Quota; 27] = [
    CFN_RESOURCES,
    CFN_OUTPUTS,
    CFN_PARAMETERS,
    CFN_TEMPLATE_BODY_S3,
    CFN_TEMPLATE_DESCRIPTION,
    CFN_LOGICAL_ID,
    CFN_OUTPUT_NAME,
    IAM_ROLE_INLINE_POLICIES,
    IAM_TRUST_POLICY,
    IAM_ROLE_DESCRIPTION,
    IAM_PATH,
    LAMBDA_FUNCTION_NAME,
    LAMBDA_FUNCTION_DESCRIPTION,
    LAMBDA_ENVIRONMENT,
    LAMBDA_LAYER_NAME,
    LAMBDA_LAYER_DESCRIPTION,
    EVENTBRIDGE_RULE_NAME,
    EVENTBRIDGE_RULE_DESCRIPTION,
    EVENTBRIDGE_PATTERN,
    SCHEDULER_GROUP_NAME,
    SQS_QUEUE_NAME,
    LOG_GROUP_NAME,
    ECS_CLUSTER_NAME,
    ECS_FAMILY,
    ECS_STARTED_BY,
    ECS_TASK_DEFINITION_SIZE,
    TAGS_PER_RESOURCE,
];
