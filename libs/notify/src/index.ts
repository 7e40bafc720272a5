export { tryDelivery, DEFAULT_RETRY, type TryResult, type RetryPolicy } from './delivery';
export { WebhookDispatcher, WEBHOOK_QUEUE, type DispatcherLog, type DispatcherOptions } from './dispatcher';
export { isNotifying, notificationOf, slackText, type Notification, type NotifyingEvent } from './notification';
export { signBody, verifySignature, SIGNATURE_HEADER } from './signature';
