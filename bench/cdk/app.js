#!/usr/bin/env node
// The CDK app a CDK user would write for the stack `jobgen synth` generates from the benchmark's
// project (scripts/bench-cdk.sh): project `bench`, one created cluster, JOBGEN_BENCH_N job types
// j-001 ... of busybox with 256 CPU units and 512 MiB. L2 constructs throughout, as a CDK user
// writes them; what they add beyond jobgen's template (a DefaultPolicy per role that gets a grant,
// the cluster's capacity-provider association, CDKMetadata) is part of what is measured.
//
// Per job type, as in jobgen's template: a log group, a Fargate task definition (family
// bench_j-NNN, container `main`, awslogs), a task role and an execution role (path
// /jobgen/bench/, so create-job's PassRole can name the path). Shared: the jobs table with its four
// indexes, the config layer, create-job and track (roles, log groups, create-job's function URL
// and the callers' managed policy, track's DLQ and async retry settings), the timers' schedule
// group and role, the reconciler's schedule, the task-state rule with its DLQ, three alarms.
//
// Env: JOBGEN_BENCH_N (job types, default 1), JOBGEN_BENCH_ASSETS (a scratch directory for the
// config document and placeholder handler code, default ./assets).
'use strict';
const fs = require('fs');
const path = require('path');
const cdk = require('aws-cdk-lib');
const { Duration, RemovalPolicy, Stack, Tags } = cdk;
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const ec2 = require('aws-cdk-lib/aws-ec2');
const ecs = require('aws-cdk-lib/aws-ecs');
const events = require('aws-cdk-lib/aws-events');
const eventsTargets = require('aws-cdk-lib/aws-events-targets');
const iam = require('aws-cdk-lib/aws-iam');
const lambda = require('aws-cdk-lib/aws-lambda');
const logs = require('aws-cdk-lib/aws-logs');
const scheduler = require('aws-cdk-lib/aws-scheduler');
const schedulerTargets = require('aws-cdk-lib/aws-scheduler-targets');
const sqs = require('aws-cdk-lib/aws-sqs');
const cloudwatch = require('aws-cdk-lib/aws-cloudwatch');

const N = Number.parseInt(process.env.JOBGEN_BENCH_N || '1', 10);
const PROJECT = 'bench';
const GROUP = `jobgen-${PROJECT}`;
const jobTypes = Array.from({ length: N }, (_, i) => `j-${String(i + 1).padStart(3, '0')}`);

// The config document travels in a layer, as jobgen's does; the handlers' code is a placeholder
// directory (CDK stages both as assets into the output directory).
const assets = path.resolve(process.env.JOBGEN_BENCH_ASSETS || path.join(__dirname, 'assets'));
const configDir = path.join(assets, `config-${N}`);
fs.mkdirSync(path.join(configDir, 'jobgen'), { recursive: true });
fs.writeFileSync(
  path.join(configDir, 'jobgen', 'config.json'),
  JSON.stringify({
    project: PROJECT,
    jobTypes: Object.fromEntries(
      jobTypes.map((t) => [t, { family: `${PROJECT}_${t}`, cluster: `${PROJECT}-main`, containerName: 'main' }]),
    ),
  }),
);
for (const f of ['create-job', 'track']) {
  fs.mkdirSync(path.join(assets, f), { recursive: true });
  fs.writeFileSync(path.join(assets, f, 'bootstrap'), '#!/bin/sh\n');
}

const app = new cdk.App();
const stack = new Stack(app, PROJECT, { description: `jobgen ${PROJECT}: ${N} job types (CDK equivalent)` });
Tags.of(stack).add('jobgen:project', PROJECT);

const sub = (s) => cdk.Fn.sub(s);
const arn = (service, resource) => sub(`arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`);

// The jobs table and its indexes.
const table = new dynamodb.Table(stack, 'JobsTable', {
  partitionKey: { name: 'jobId', type: dynamodb.AttributeType.STRING },
  billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
  encryption: dynamodb.TableEncryption.AWS_MANAGED,
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  deletionProtection: true,
  timeToLiveAttribute: 'expiresAt',
  removalPolicy: RemovalPolicy.RETAIN,
});
const S = dynamodb.AttributeType.STRING;
table.addGlobalSecondaryIndex({
  indexName: 'byCreated',
  partitionKey: { name: 'shard', type: S },
  sortKey: { name: 'createdAt', type: S },
  projectionType: dynamodb.ProjectionType.INCLUDE,
  nonKeyAttributes: ['jobType'],
});
table.addGlobalSecondaryIndex({
  indexName: 'open',
  partitionKey: { name: 'shard', type: S },
  sortKey: { name: 'openSince', type: S },
  projectionType: dynamodb.ProjectionType.INCLUDE,
  nonKeyAttributes: ['jobType'],
});
table.addGlobalSecondaryIndex({
  indexName: 'byQueue',
  partitionKey: { name: 'queueKey', type: S },
  sortKey: { name: 'queueOrder', type: S },
  projectionType: dynamodb.ProjectionType.KEYS_ONLY,
});
table.addGlobalSecondaryIndex({
  indexName: 'progress',
  partitionKey: { name: 'progressJob', type: S },
  projectionType: dynamodb.ProjectionType.INCLUDE,
  nonKeyAttributes: ['percent', 'message', 'seq'],
});

// The cluster, in the project's existing network.
const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Network', {
  vpcId: 'vpc-0123456789abcdef0',
  availabilityZones: ['us-east-1a'],
  privateSubnetIds: ['subnet-0123456789abcdef0'],
  privateSubnetRouteTableIds: ['rtb-0123456789abcdef0'],
});
const cluster = new ecs.Cluster(stack, 'ClusterMain', {
  clusterName: `${PROJECT}-main`,
  vpc,
  enableFargateCapacityProviders: true,
  containerInsightsV2: ecs.ContainerInsights.DISABLED,
});

const configLayer = new lambda.LayerVersion(stack, 'ConfigLayer', {
  layerVersionName: `${PROJECT}-config`,
  description: `jobgen ${PROJECT}: the job-type table both functions read at /opt/jobgen/config.json`,
  code: lambda.Code.fromAsset(configDir),
  compatibleArchitectures: [lambda.Architecture.ARM_64],
  compatibleRuntimes: [lambda.Runtime.PROVIDED_AL2023],
});

const trackDlq = new sqs.Queue(stack, 'TrackDlq', {
  queueName: `${PROJECT}-track-dlq`,
  encryption: sqs.QueueEncryption.SQS_MANAGED,
  retentionPeriod: Duration.days(14),
});
const scheduleGroup = new scheduler.ScheduleGroup(stack, 'ScheduleGroup', { scheduleGroupName: GROUP });
const timerRole = new iam.Role(stack, 'TimerRole', {
  path: `/jobgen/${PROJECT}/`,
  description: `jobgen ${PROJECT}: EventBridge Scheduler delivers the project's timers to track`,
  assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
    conditions: {
      ArnEquals: { 'aws:SourceArn': arn('scheduler', `schedule-group/${GROUP}`) },
      StringEquals: { 'aws:SourceAccount': stack.account },
    },
  }),
});

const clusterArns = [cluster.clusterArn];
const taskArns = [arn('ecs', `task/${PROJECT}-main/*`)];
// The statements both functions share: launch, tag, stop, pass the task roles, arm timers.
function launchStatements() {
  return [
    new iam.PolicyStatement({
      actions: ['ecs:RunTask'],
      resources: [arn('ecs', `task-definition/${PROJECT}_*:*`)],
      conditions: { ArnEquals: { 'ecs:cluster': clusterArns } },
    }),
    new iam.PolicyStatement({
      actions: ['ecs:TagResource'],
      resources: taskArns,
      conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
    }),
    new iam.PolicyStatement({
      actions: ['ecs:StopTask'],
      resources: taskArns,
      conditions: { StringEquals: { 'aws:ResourceTag/jobgen:project': PROJECT } },
    }),
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/jobgen/${PROJECT}/*`)],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
    new iam.PolicyStatement({
      actions: ['scheduler:CreateSchedule'],
      resources: [arn('scheduler', `schedule/${GROUP}/*`)],
    }),
    new iam.PolicyStatement({
      actions: ['scheduler:DeleteSchedule'],
      resources: [arn('scheduler', `schedule/${GROUP}/run-*`), arn('scheduler', `schedule/${GROUP}/start-*`)],
    }),
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [timerRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    }),
  ];
}

function handler(id, name, props) {
  const logGroup = new logs.LogGroup(stack, `${id}LogGroup`, {
    logGroupName: `/aws/lambda/${PROJECT}-${name}`,
    retention: logs.RetentionDays.ONE_MONTH,
  });
  const fn = new lambda.Function(stack, `${id}Function`, {
    functionName: `${PROJECT}-${name}`,
    runtime: lambda.Runtime.PROVIDED_AL2023,
    architecture: lambda.Architecture.ARM_64,
    handler: 'bootstrap',
    code: lambda.Code.fromAsset(path.join(assets, name)),
    memorySize: 256,
    layers: [configLayer],
    logGroup,
    ...props,
  });
  fn.node.addDependency(scheduleGroup);
  for (const s of launchStatements()) fn.addToRolePolicy(s);
  return fn;
}

const env = {
  JOBGEN_TABLE_NAME: table.tableName,
  JOBGEN_PROJECT: PROJECT,
  JOBGEN_CONFIG_SHA256: '0'.repeat(64),
  JOBGEN_RETENTION_DAYS: '90',
  JOBGEN_SCHEDULE_GROUP: GROUP,
  JOBGEN_TIMER_ROLE_ARN: timerRole.roleArn,
  JOBGEN_TIMER_DLQ_ARN: trackDlq.queueArn,
};

const track = handler('Track', 'track', {
  description: `jobgen ${PROJECT}: applies ECS task state changes to job records`,
  timeout: Duration.seconds(60),
  deadLetterQueue: trackDlq,
  retryAttempts: 2,
  maxEventAge: Duration.hours(6),
  environment: { ...env, JOBGEN_TIMER_TARGET_ARN: arn('lambda', `function:${PROJECT}-track`) },
});
table.grant(track, 'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
track.addToRolePolicy(
  new iam.PolicyStatement({
    actions: ['dynamodb:Query'],
    resources: [`${table.tableArn}/index/byQueue`, `${table.tableArn}/index/open`],
  }),
);
track.addToRolePolicy(
  new iam.PolicyStatement({
    actions: ['ecs:DescribeTasks'],
    resources: taskArns,
    conditions: { ArnEquals: { 'ecs:cluster': clusterArns } },
  }),
);
track.addToRolePolicy(
  new iam.PolicyStatement({
    actions: ['ecs:ListTasks'],
    resources: [arn('ecs', `container-instance/${PROJECT}-main/*`)],
    conditions: { ArnEquals: { 'ecs:cluster': clusterArns } },
  }),
);

const createJob = handler('CreateJob', 'create-job', {
  description: `jobgen ${PROJECT}: records a job and launches its Fargate task`,
  timeout: Duration.seconds(30),
  environment: { ...env, JOBGEN_TIMER_TARGET_ARN: track.functionArn },
});
table.grant(createJob, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
createJob.addToRolePolicy(
  new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${table.tableArn}/index/byQueue`] }),
);
createJob.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
new iam.ManagedPolicy(stack, 'CreateJobInvokePolicy', {
  description: `jobgen ${PROJECT}: submit jobs to the create-job function (direct invoke and its AWS_IAM function URL)`,
  statements: [
    new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [createJob.functionArn] }),
    new iam.PolicyStatement({
      actions: ['lambda:InvokeFunctionUrl'],
      resources: [createJob.functionArn],
      conditions: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
    }),
  ],
});

// Timers: the role Scheduler assumes invokes track and may dead-letter to its DLQ; the reconciler.
timerRole.addToPolicy(
  new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [arn('lambda', `function:${PROJECT}-track`)] }),
);
trackDlq.grantSendMessages(timerRole);
new scheduler.Schedule(stack, 'ReconcileSchedule', {
  scheduleName: 'reconcile',
  scheduleGroup,
  description: 'jobgen: invokes track to repair jobs whose task state events were lost',
  schedule: scheduler.ScheduleExpression.rate(Duration.minutes(5)),
  target: new schedulerTargets.LambdaInvoke(track, {
    role: timerRole,
    input: scheduler.ScheduleTargetInput.fromObject({ jobgenReconcile: {} }),
    deadLetterQueue: trackDlq,
    retryAttempts: 2,
    maxEventAge: Duration.minutes(5),
  }),
});

// ECS task state changes of this project's jobs to track, undeliverable ones to a DLQ.
const ruleDlq = new sqs.Queue(stack, 'TaskStateRuleDlq', {
  queueName: `${PROJECT}-task-state-dlq`,
  encryption: sqs.QueueEncryption.SQS_MANAGED,
  retentionPeriod: Duration.days(14),
});
new events.Rule(stack, 'TaskStateRule', {
  ruleName: `${PROJECT}-task-state`,
  description: `ECS task state changes of jobs launched by ${PROJECT}`,
  eventPattern: {
    source: ['aws.ecs'],
    detailType: ['ECS Task State Change'],
    detail: { clusterArn: clusterArns, lastStatus: ['RUNNING', 'STOPPED'], startedBy: [`jobgen/${PROJECT}`] },
  },
  targets: [
    new eventsTargets.LambdaFunction(track, {
      deadLetterQueue: ruleDlq,
      retryAttempts: 8,
      maxEventAge: Duration.hours(1),
    }),
  ],
});

const alarm = (id, metric, description) =>
  new cloudwatch.Alarm(stack, id, {
    alarmDescription: description,
    metric,
    threshold: 0,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
const period = { period: Duration.minutes(5) };
alarm('TaskStateRuleDlqAlarm', ruleDlq.metricApproximateNumberOfMessagesVisible({ ...period, statistic: 'Maximum' }),
  `jobgen ${PROJECT}: task state events EventBridge could not deliver to the track function`);
alarm('TrackDlqAlarm', trackDlq.metricApproximateNumberOfMessagesVisible({ ...period, statistic: 'Maximum' }),
  `jobgen ${PROJECT}: events track failed on and timers Scheduler could not deliver`);
alarm('TrackErrorsAlarm', track.metricErrors({ ...period, statistic: 'Sum' }), `jobgen ${PROJECT}: the track function failed`);

// One task definition, log group, task role and execution role per job type.
for (const t of jobTypes) {
  const id = t.replace(/[^A-Za-z0-9]/g, '');
  const logGroup = new logs.LogGroup(stack, `TaskLogGroup${id}`, {
    logGroupName: `/jobgen/${PROJECT}/${t}`,
    retention: logs.RetentionDays.ONE_MONTH,
  });
  const ecsTasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com');
  const taskRole = new iam.Role(stack, `TaskRole${id}`, {
    path: `/jobgen/${PROJECT}/`,
    description: `jobgen ${PROJECT}: tasks of job type ${t}`,
    assumedBy: ecsTasks.withConditions({
      ArnLike: { 'aws:SourceArn': arn('ecs', '*') },
      StringEquals: { 'aws:SourceAccount': stack.account },
    }),
  });
  const executionRole = new iam.Role(stack, `ExecutionRole${id}`, {
    path: `/jobgen/${PROJECT}/`,
    description: `jobgen ${PROJECT}: ECS agent for job type ${t} (image pull, logs, secrets)`,
    assumedBy: ecsTasks,
  });
  const td = new ecs.FargateTaskDefinition(stack, `TaskDefinition${id}`, {
    family: `${PROJECT}_${t}`,
    cpu: 256,
    memoryLimitMiB: 512,
    runtimePlatform: {
      cpuArchitecture: ecs.CpuArchitecture.X86_64,
      operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
    },
    taskRole,
    executionRole,
  });
  td.addContainer('main', {
    containerName: 'main',
    image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:1.36'),
    essential: true,
    memoryLimitMiB: 512,
    logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'jobgen' }),
  });
}

app.synth();
