export { appendStateFile, defaultHome, ensureHome, loadSecretFile, openStateFile, readJsonFile, readStateFile, removeFile, writeFileAtomic } from './files.js'
export { jsonStateFile } from './json-file.js'
export { rotateLines } from './lines-file.js'
export type { JsonFile, JsonFileSpec } from './json-file.js'
export { LOCK_LIMITS, lockPathFor, withFileLock } from './lock.js'
export type { LockOptions, LockOwner } from './lock.js'
export {
  DEVICE_LIMITS,
  DEVICES_FILE,
  devicesPath,
  findDeviceByName,
  newDevice,
  newDeviceId,
  readDevices,
  sanitizeDeviceName,
  updateDevices,
  watchDevices,
} from './devices.js'
export type { DeviceRecord } from './devices.js'
export { AUDIT_FILE, AUDIT_LIMITS, appendAudit, auditHealth, auditPath, readAudit } from './audit.js'
export type { AuditEntry, AuditHealth, AuditInput, AuditOptions, AuditQuery } from './audit.js'
