// Node.js handlers for the Lambda end-to-end tests.
let invocations = 0;

export const handler = async (event, context) => {
  invocations += 1;
  console.log("node got", event);
  return { doubled: event.n * 2, invocations, functionName: context.functionName, requestId: context.awsRequestId };
};

export function callbackStyle(event, context, callback) {
  setTimeout(() => callback(null, { via: "callback", n: event.n }), 5);
}

export const rejects = async () => {
  const error = new Error("no stock left");
  error.name = "OutOfStock";
  throw error;
};
