// Lambda for seed A's "Process results" step: the faithful Node.js variant of
// the upstream sfn-athena-results function (runtime nodejs, handler
// "process_results.lambdaHandler").
//
// Event: {"resultLocation": "s3://bucket/path/<QueryExecutionId>.csv"}
// It only logs the event and returns nothing, so the Lambda's response payload
// is JSON null and the lambda:invoke task's "Payload" field is null.
export const lambdaHandler = async (event) => {
  console.log(event);
};
