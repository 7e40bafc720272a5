export { deliver, DEFAULT_RETRY, type DeliveryResult, type RetryPolicy } from './delivery';
export { WebhookDispatcher, type DispatcherLog, type DispatcherOptions } from './dispatcher';
export { isNotifying, notificationOf, slackText, type Notification, type NotifyingEvent } from './notification';
export { signBody, verifySignature, SIGNATURE_HEADER } from './signature';
