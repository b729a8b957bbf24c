import * as crypto from "crypto";

/** The hex SHA-256 of a text: what the program keys content on (deploy stamps, build keys, file states). */
export function sha256(text: string): string {
  return crypto.createHash("sha256").update(text).digest("hex");
}
