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

// Even items throw from a timer while the invocation runs: an uncaught error ends the
// worker (as it ends a Lambda sandbox); the next invocation must get a fresh worker.
export const crashesOnEven = async (event) => {
  if (event.n % 2 === 0) {
    setTimeout(() => { throw new Error(`timer failed on ${event.n}`); }, 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { n: event.n, pid: process.pid };
};
