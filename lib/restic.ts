/** The SSH side of an sftp restic repository URL (both of restic's forms), or undefined when it names no user and host. */
export function sftpTarget(repository: string): { user: string; host: string; port: number } | undefined {
  const short = repository.match(/^sftp:([a-z_][a-z0-9_-]*)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(?!\/\/)./);
  if (short) return { user: short[1], host: short[2], port: 22 };
  const url = repository.match(/^sftp:\/\/([a-z_][a-z0-9_-]*)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?\/./);
  if (url) return { user: url[1], host: url[2], port: url[3] ? Number(url[3]) : 22 };
  return undefined;
}
