import { z } from "zod";
import { hostKey, privateKey, wholeNumber } from "../values";

/** server.*: the SSH target. */
export function serverSettings() {
  const server = z.strictObject(
    {
    address: z
      .string({ error: "is required: the server's hostname or IP address" })
      .regex(/^[A-Za-z0-9.:-]+$/, { error: "must be a hostname or an IP address" }),
    port: wholeNumber(1, 65535).default(22),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/, { error: "must be a Unix user name" })
      .default("root"),
    privateKey: privateKey("the SSH private key that logs in to the server"),
    hostKey: hostKey.optional(),
    },
    { error: "is required: the server to deploy to (address, hostKey, privateKey)" },
  );
  return server;
}
